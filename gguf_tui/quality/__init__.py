"""Quantization quality, measured: KL divergence, top-token agreement and perplexity of a
model against a higher-precision reference, on a text (llama-perplexity's method).

A core package: no Textual. The command (gguf_tui/commands/quality.py) and the app read
and write through `scorer.score`, `reference.choose_reference` and `results`.
"""
