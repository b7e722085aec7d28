"""The model picker (ctrl+o) in the real `gguf-tui`: the front door of a fresh install.

Each test starts from a fresh home: no models (offline, nothing to download), models in
`model_dirs`, a model opened by path beside its siblings, servers that answer or not.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tests.terminal.harness import ENTER, Home, ctrl, launched

pytest_plugins = ["tests.conftest_hub"]

SIZES = [(80, 24), (120, 40)]


def link(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if not target.exists():
        os.link(source, target)
    return target


def write_config(home: Home, text: str) -> Path:
    home.config.mkdir(parents=True, exist_ok=True)
    path = home.config / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def picker_shown(term) -> str:
    return term.wait_for("Choose a model", 60, "the picker")


def loaded(term, quant: str) -> str:
    """The picker closed and the status line names the quantization, with its context."""
    return term.wait_for(
        lambda s: "Choose a model" not in s and quant in s and "ctx 0/" in s,
        120,
        f"the {quant} model to load",
    )


# -- defect 1: an offline first launch is no dead end ------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_offline_first_launch_says_where_models_are_looked_for(home, size):
    write_config(home, 'model_dirs = ["~/llms"]\n')
    with launched(home, cols=size[0], rows=size[1]) as term:
        picker_shown(term)
        term.wait_for("Looked for .gguf files in", 30, "where models are looked for")
        flat = term.flat()
        for phrase in (
            "~/.local/share/gguf-tui/models",  # the app's own folder
            "~/llms (model_dirs in config.toml)",
            "~/.cache/huggingface/hub (the Hugging Face cache)",
            "paste a .gguf file or a folder",
            "gguf-tui PATH",
            "--models-dir DIR",
        ):
            assert phrase in flat, (phrase, term.text())
        assert term.quit() == 0
        assert term.restored()


def test_typing_filters_the_starter_models(home):
    with launched(home) as term:
        picker_shown(term)
        term.wait_for("Llama 3.2 1B", 30, "the starter models")
        term.write("qwen")
        term.wait_for(
            lambda s: "Qwen2.5 0.5B" in s and "Llama 3.2 1B" not in s and "SmolLM2 360M" not in s,
            10,
            "only the Qwen starter",
        )
        term.write(ctrl("u"))  # alone: Textual applies a key binding after the characters
        term.wait_for("Llama 3.2 1B", 10, "every starter again")  # that came with it
        term.write("zzz")
        term.wait_for("No starter model matches", 10)
        assert term.quit() == 0


@pytest.mark.parametrize("size", SIZES)
def test_a_pasted_folder_becomes_a_model_folder_and_its_model_loads(home, ladder, size):
    folder = home.root / "Downloads" / "llm"
    link(ladder["Q4_K_M"], folder)
    with launched(home, cols=size[0], rows=size[1]) as term:
        picker_shown(term)
        term.wait_for("Looked for .gguf files in", 30)
        term.paste(str(folder))
        term.wait_for("Enter adds the folder", 10, "what enter will do with the folder")
        term.write(ENTER)
        term.wait_for("Added ~/Downloads/llm to model_dirs", 30, "the folder to be added")
        term.wait_for(lambda s: "SmolLM2-135M-Instruct" in s and "ready" in s, 30)
        config = tomllib.loads((home.config / "config.toml").read_text(encoding="utf-8"))
        assert config["model_dirs"] == ["~/Downloads/llm"]
        term.write(ENTER)
        loaded(term, "Q4_K_M")
        assert term.quit() == 0


def test_a_folder_is_searched_for_the_session_when_config_toml_cannot_be_written(home, ladder):
    folder = home.root / "llm"
    link(ladder["Q4_K_M"], folder)
    broken = "model_dirs = [ this is not toml\n"
    config = write_config(home, broken)
    with launched(home) as term:
        picker_shown(term)
        term.wait_for("Looked for .gguf files in", 30)
        term.type_line("~/llm")
        term.wait_for("until you quit", 30, "the folder searched for this session")
        term.wait_for("ready", 30, "its model listed")
        assert "cannot save config.toml" in term.flat()
        assert term.quit() == 0
    assert config.read_text(encoding="utf-8") == broken  # the user's text is left alone


def test_a_typed_gguf_path_loads_it(home, ladder):
    model = link(ladder["Q8_0"], home.root / "elsewhere")
    with launched(home) as term:
        picker_shown(term)
        term.type_line(str(model))
        loaded(term, "Q8_0")
        assert term.quit() == 0
    assert not (home.config / "config.toml").exists()  # a file is opened, not remembered


def test_a_path_to_nothing_says_so(home):
    with launched(home) as term:
        picker_shown(term)
        term.wait_for("Looked for .gguf files in", 30)
        term.type_line("~/no/such/model.gguf")
        term.wait_for("Nothing at ~/no/such/model.gguf", 10)
        assert "Choose a model" in term.text()
        assert term.quit() == 0


# -- defect 2: the picker loads from model_dirs --------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_model_dirs_are_listed_filtered_and_loaded(home, ladder, size):
    for quant in ("Q4_K_M", "Q8_0"):
        link(ladder[quant], home.root / "llms")
    write_config(home, 'model_dirs = ["~/llms"]\n')
    with launched(home, cols=size[0], rows=size[1]) as term:
        picker_shown(term)
        term.type_line("q8")  # at once, as a user who knows what they want
        loaded(term, "Q8_0")
        term.write(ctrl("o"))
        screen = term.wait_for(lambda s: "Choose a model" in s and "Q4_K_M" in s, 30)
        marked = [line for line in screen.splitlines() if "●" in line]
        assert len(marked) == 1 and "Q8_0" in marked[0], screen
        assert term.quit() == 0


def test_the_model_opened_by_path_is_listed_with_its_siblings(home, ladder):
    folder = home.root / "Downloads" / "llm"
    model = link(ladder["Q4_K_M"], folder)
    link(ladder["Q8_0"], folder)
    with launched(home, model) as term:
        loaded(term, "Q4_K_M")
        term.write(ctrl("o"))
        screen = term.wait_for(
            lambda s: "Choose a model" in s and "Q8_0" in s and "●" in s, 30, "both files"
        )
        marked = [line for line in screen.splitlines() if "●" in line]
        assert len(marked) == 1 and "Q4_K_M" in marked[0], screen
        term.type_line("q8")
        loaded(term, "Q8_0")
        assert term.quit() == 0


# -- the measured quality of each file ------------------------------------------------------------


def measured(home: Home, model: Path, reference: Path, kld: float, top1: float) -> None:
    """A result of `gguf-tui quality` for `model`, kept as the command keeps it."""
    import time

    from gguf_tui.quality import results

    (path, size, mtime_ns), (ref, _, _) = results.identity(model), results.identity(reference)
    record = results.QualityRecord(
        model=path,
        size=size,
        mtime_ns=mtime_ns,
        quant="Q4_K_M",
        reference=ref,
        reference_quant="Q8_0",
        text="the sample text",
        text_digest="0" * 64,
        ctx=128,
        tokens=64,
        kld_mean=kld,
        kld_p99=0.2,
        top1_agreement=top1,
        ppl=12.0,
        ppl_reference=11.8,
        seconds=1.0,
        measured_at=time.time(),
    )
    results.save(home.data, [record])


@pytest.mark.parametrize("size", SIZES)
def test_the_local_view_shows_the_quality_measured_for_a_file(home, ladder, size):
    """A file `gguf-tui quality` scored shows its KLD and top-token agreement; the others
    the usual guidance for their quantization."""
    folder = home.root / "llms"
    files = {q: link(ladder[q], folder) for q in ("Q8_0", "Q4_K_M", "Q3_K_S")}
    measured(home, files["Q4_K_M"], files["Q8_0"], kld=0.0213, top1=97.14)
    write_config(home, 'model_dirs = ["~/llms"]\n')
    with launched(home, cols=size[0], rows=size[1]) as term:
        picker_shown(term)
        screen = term.wait_for("KLD 0.021 · 97.1 %", 30, "the measured quality column")
        rows = {q: ln for ln in screen.splitlines() for q in files if f" {q} " in ln}
        assert "KLD 0.021 · 97.1 %" in rows["Q4_K_M"], screen
        assert "low quality" in rows["Q3_K_S"] and "KLD" not in rows["Q3_K_S"], screen
        assert "quality" in next(
            ln for ln in screen.splitlines() if "model" in ln and "quant" in ln
        )
        term.write("q4_k")  # the highlighted file's figures in full, under the table
        term.wait_for(lambda s: "same top token vs Q8_0" in " ".join(s.split()), 10)
        assert term.quit() == 0


# -- defect 3: the Servers view, the cancel key, messages of other tabs --------------------------


@pytest.mark.parametrize("size", SIZES)
def test_servers_that_all_fail_are_answered_not_still_asked(home, size):
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI() as refusing:
        refusing.models_status = 404
        write_config(
            home,
            f'[servers.dead]\nurl = "http://127.0.0.1:9/v1"\n\n'
            f'[servers.refusing]\nurl = "{refusing.url}"\n',
        )
        with launched(home, cols=size[0], rows=size[1]) as term:
            picker_shown(term)
            term.write(ctrl("r"))
            term.wait_for(lambda s: "dead" in s and "refusing" in s, 30, "both servers' rows")
            term.wait_gone("Asking the servers", 10)
            term.wait_for("No server listed a model", 10)
            assert term.quit() == 0


def test_a_server_that_answers_is_counted(home):
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI(models=["A-Q4_K_M.gguf", "B-Q8_0.gguf"]) as lab:
        write_config(
            home,
            f'[servers.lab]\nurl = "{lab.url}"\n\n[servers.dead]\nurl = "http://127.0.0.1:9/v1"\n',
        )
        with launched(home, cols=120, rows=40) as term:
            picker_shown(term)
            term.write(ctrl("r"))
            term.wait_for("2 models on 1 of 2 servers", 30)
            assert "Asking the servers" not in term.text()
            assert term.quit() == 0


def test_cancel_download_is_offered_only_during_a_download(home):
    with launched(home, cols=120, rows=40) as term:
        picker_shown(term)
        shown = {"r": "No servers configured", "g": "Search Hugging Face", "l": "Sort"}
        for key, marker in shown.items():
            term.write(ctrl(key))
            screen = term.wait_for(marker, 10, f"the tab of ctrl+{key}")
            term.wait_for("Quit", 10, "the footer")
            assert "Cancel download" not in term.text(), screen
        assert term.quit() == 0


@pytest.mark.parametrize("size", SIZES)
def test_a_download_offers_cancel_and_cancel_stops_it(tmp_path, fake_hub, size):
    from tests.support.fake_hub import LADDER_REPO

    fake_hub.rate = 4_000_000  # bytes a second: the download lasts long enough to cancel
    home = Home(tmp_path / "home", extra_env={"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "0"})
    with launched(home, cols=size[0], rows=size[1]) as term:
        picker_shown(term)
        term.write(ctrl("g"))
        term.wait_for("Type a search", 10, "the Hugging Face view")
        term.type_line(LADDER_REPO)
        term.wait_for("good default", 30, "the quantizations")
        term.press("down", "down")  # smallest first: Q3_K_S, IQ4_NL, Q4_K_M
        term.write(ENTER)
        term.wait_for("Cancel", 30, "ctrl+x offered in the footer")
        term.wait_for(lambda s: "MB of" in s and "MB/s" in s, 30, "the download's progress")
        term.write(ctrl("x"))
        term.wait_for("cancelled", 30)
        term.wait_gone("Cancel", 10)
        assert term.quit() == 0
    assert not list(home.root.rglob("*Q4_K_M.gguf"))  # nothing half-written left looking whole


def test_a_hub_error_stays_in_its_own_tab(home):
    with launched(home) as term:
        picker_shown(term)
        term.wait_for("Llama 3.2 1B", 30, "the starter models")
        term.write(ENTER)  # download a starter: offline, it cannot
        term.wait_for("offline mode is on", 30, "the Hub's answer")
        term.write(ctrl("r"))
        term.wait_for("No servers configured", 10)
        assert "offline mode" not in term.text(), term.text()
        term.write(ctrl("l"))
        term.wait_for("offline mode is on", 10, "the message back in its tab")
        assert term.quit() == 0


# -- defect 4: load progress -------------------------------------------------------------------


def test_load_progress_is_not_stuck_at_zero(home, gemma_path):
    """llama.cpp reports progress only for tensor data, all of it in the last moment of a
    mapped load: the picker shows the time and what is being done, not a stuck 0 %."""
    link(gemma_path, home.root / "llms")
    write_config(home, 'model_dirs = ["~/llms"]\n')
    seen: list[str] = []

    def record(screen: str) -> bool:
        seen.extend(line.strip() for line in screen.splitlines() if "Loading" in line)
        return "Choose a model" not in screen and "ctx 0/" in screen

    with launched(home, cols=120, rows=40) as term:
        picker_shown(term)
        term.wait_for("ready", 30, "the model listed")
        term.write(ENTER)
        term.wait_for(record, 120, "the model to load")
        assert term.quit() == 0
    assert seen, "no frame showed the load"
    assert not any("(0%)" in line for line in seen), seen
    assert any("reading the header and vocabulary" in line for line in seen), seen


def test_markup_in_a_server_model_name_is_shown_as_written(home):
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI(models=["[red]Evil[bold] Q4_K_M.gguf"]) as lab:
        write_config(home, f'[servers.lab]\nurl = "{lab.url}"\n')
        with launched(home, cols=120, rows=40) as term:
            picker_shown(term)
            term.write(ctrl("r"))
            term.wait_for("[red]Evil[bold]", 30, "the name as the server sent it")
            assert term.quit() == 0
