"""gguf-tui: chat with local quantized GGUF models in the terminal."""

__version__ = "0.1.0"
