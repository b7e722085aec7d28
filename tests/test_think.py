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
