"""Hugging Face: listing and searching repositories, downloading files, the cache; every
answer from the Hub bounded in size and time."""
