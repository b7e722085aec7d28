"""Benchmarks for the team: `python -m bench.NAME` from the repository root (see README.md)."""
