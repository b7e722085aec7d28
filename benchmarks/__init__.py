"""Benchmarks for the team: `python -m benchmarks.NAME` from the repository root (see README.md)."""
