"""The real engine's decode loop, made to write a given text.

The model's sampler is swapped for the tokens that spell `text` (then end of text), so
every step after sampling — byte decoding, stop strings, the reasoning splitter, the
events — is the engine's own, on a real llama.cpp vocabulary.
"""

from __future__ import annotations

from gguf_tui.engine import Engine, Event, Sampling


def spelled(engine: Engine, text: str) -> tuple[list[int], list[Event]]:
    """The tokens that spell `text` and the events of a chat reply written with them."""
    llm = engine._model.llm
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)

    def generate(prompt_tokens, **kwargs):
        yield from tokens
        yield llm.token_eos()

    llm.generate = generate
    try:
        gen = engine.chat([{"role": "user", "content": "Say it."}], Sampling(max_tokens=400))
        return tokens, list(gen)
    finally:
        del llm.generate
