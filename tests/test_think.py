from gguf_tui.engine.think import REASONING, TEXT, ThinkSplitter


def split_all(chunks, in_reasoning=False):
    s = ThinkSplitter(in_reasoning)
    out = []
    for c in chunks:
        out += s.feed(c)
    out += s.flush()
    merged: dict[str, str] = {REASONING: "", TEXT: ""}
    for kind, text in out:
        merged[kind] += text
    return merged


def test_reasoning_and_answer_are_separated():
    got = split_all(["<think>\nLet me add.\n</think>\n\nIt is 4."])
    assert got == {REASONING: "Let me add.\n", TEXT: "It is 4."}


def test_tags_cut_at_every_position():
    text = "<think>plan</think>answer"
    for i in range(1, len(text)):
        for j in range(i + 1, len(text)):
            got = split_all([text[:i], text[i:j], text[j:]])
            assert got == {REASONING: "plan", TEXT: "answer"}, (i, j)


def test_one_character_at_a_time():
    got = split_all(list("  <think>a < b</think>The answer <is> here"))
    assert got == {REASONING: "a < b", TEXT: "The answer <is> here"}


def test_think_later_in_an_answer_is_text():
    got = split_all(["Use the ", "<think>", " tag like this."])
    assert got == {REASONING: "", TEXT: "Use the <think> tag like this."}


def test_template_that_already_opened_reasoning():
    got = split_all(["hmm, ", "ok</th", "ink>Done."], in_reasoning=True)
    assert got == {REASONING: "hmm, ok", TEXT: "Done."}


def test_unfinished_reasoning_is_flushed():
    got = split_all(["<think>still thinking <", "/thi"])
    assert got == {REASONING: "still thinking </thi", TEXT: ""}


def test_text_that_only_looks_like_the_start_of_a_tag():
    got = split_all(["<th", "is is html>"])
    assert got == {REASONING: "", TEXT: "<this is html>"}


def test_real_tokenizer_pieces(smollm_path):
    """Tags split across real SmolLM2 token boundaries (`<`, `think`, `>` …)."""
    from llama_cpp import Llama

    llm = Llama(str(smollm_path), vocab_only=True, verbose=False)
    text = "<think>The user wants 2+2.</think>\nThe answer is 4."
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)
    pieces = [llm.detokenize([t]).decode("utf-8", "replace") for t in tokens]
    assert len(pieces) > 10
    assert split_all(pieces) == {REASONING: "The user wants 2+2.", TEXT: "The answer is 4."}


# -- harmony (gpt-oss) ----------------------------------------------------------------------
# What llama.cpp's decode gives for gpt-oss: <|end|> is a control token and comes out empty.
HARMONY = (
    "<|channel|>analysis<|message|>User asks 2+2. Easy: 4."
    "<|start|>assistant<|channel|>final<|message|>It is **4**."
)


def test_harmony_analysis_is_reasoning_and_final_is_the_answer():
    assert split_all([HARMONY]) == {REASONING: "User asks 2+2. Easy: 4.", TEXT: "It is **4**."}


def test_harmony_markers_cut_at_every_position():
    for i in range(1, len(HARMONY)):
        for j in range(i + 1, len(HARMONY), 3):
            got = split_all([HARMONY[:i], HARMONY[i:j], HARMONY[j:]])
            assert got == {REASONING: "User asks 2+2. Easy: 4.", TEXT: "It is **4**."}, (i, j)


def test_harmony_as_a_server_passes_it_through():
    """Every marker kept (a server with the special tokens rendered), a constrained header,
    a commentary preamble (shown: it is written for the user) and the closing marker."""
    text = (
        "<|channel|>analysis<|message|>think<|end|>"
        "<|start|>assistant<|channel|>commentary<|message|>Checking.<|end|>"
        "<|start|>assistant<|channel|>final <|constrain|>json<|message|>{}<|return|>"
    )
    assert split_all(list(text)) == {REASONING: "think", TEXT: "Checking.{}"}


def test_harmony_cut_off_keeps_what_was_written():
    assert split_all(["<|channel|>analysis<|message|>half a thou", "ght <|st"]) == {
        REASONING: "half a thought <|st",  # as for </thi: a held tail is released
        TEXT: "",
    }
    assert split_all(["<|channel|>analysis<|message|>done<|start|>assistant<|chan"]) == {
        REASONING: "done",
        TEXT: "",
    }


def test_a_channel_marker_later_in_an_answer_is_text():
    got = split_all(["Harmony opens with ", "<|channel|>", " then a name."])
    assert got == {REASONING: "", TEXT: "Harmony opens with <|channel|> then a name."}


def test_an_answer_that_only_opens_like_harmony_is_kept_as_text():
    text = "<|channel|> is how gpt-oss starts, says the model, and stops."
    assert split_all([text[:5], text[5:]]) == {REASONING: "", TEXT: text}


def test_a_header_that_never_ends_is_shown_as_text():
    text = "<|channel|>" + "x" * 300 + " and no message marker"
    assert split_all([text[:100], text[100:]]) == {REASONING: "", TEXT: text}


def test_harmony_through_the_real_decode_loop(engine):
    """The engine's own decode loop fed tokens that spell a gpt-oss answer (SmolLM2 has
    no harmony tokens, so the markers come as text pieces, as llama.cpp renders them)."""
    from gguf_tui.engine import Finished, ReasoningDelta, TextDelta
    from tests.support.spelled import spelled

    _, events = spelled(engine, HARMONY)
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.reasoning, finished.text) == ("User asks 2+2. Easy: 4.", "It is **4**.")
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == "It is **4**." and "<|" not in shown
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == finished.reasoning
