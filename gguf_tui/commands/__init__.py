"""One module per command-line verb; each exposes `add_parser` and `run`."""
