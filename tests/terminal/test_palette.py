"""Command palette (ctrl+p) choices that must outlive the moment: the theme, screenshots."""

from __future__ import annotations

import tomllib

from tests.terminal.harness import ENTER, Home, Terminal, ctrl, launched

NORD_BACKGROUND = "2e3440"  # the nord theme's $background


def ready(term: Terminal) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx 0/" in s, 120, "the model to load")


def backgrounds(term: Terminal) -> set[str]:
    with term._lock:
        return {cell.bg for row in term.screen.buffer.values() for cell in row.values()}


def palette(term: Terminal, query: str, hit: str) -> None:
    """ctrl+p, type `query`, wait for the `hit` line and take the first hit."""
    term.write(ctrl("p"))
    term.wait_for("🔎", 10, "the command palette")
    term.write(query)
    term.wait_for(hit, 10, f"{hit!r} in the palette")
    term.write(ENTER)


def config_file(home: Home) -> dict:
    return tomllib.loads((home.config / "config.toml").read_text(encoding="utf-8"))


def test_a_theme_chosen_in_the_palette_is_kept_after_a_relaunch(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model) as term:
        ready(term)
        assert NORD_BACKGROUND not in backgrounds(term)
        palette(term, "theme", "Change the current theme")
        term.wait_for("Search for themes", 10, "the theme list")
        term.write("nord")
        term.wait_for(lambda s: "gruvbox" not in s and "nord" in s, 10, "nord alone")
        term.write(ENTER)
        term.wait_for(lambda s: NORD_BACKGROUND in backgrounds(term), 10, "the nord colours")
        assert term.quit() == 0
    assert config_file(home)["theme"] == "nord"
    with launched(home, model) as term:
        ready(term)
        term.wait_for(lambda s: NORD_BACKGROUND in backgrounds(term), 10, "nord after relaunch")
        assert term.quit() == 0


def test_an_unknown_theme_in_the_config_is_reported_with_the_choices(home, ladder):
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text('theme = "no-such-theme"\n', encoding="utf-8")
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        screen = term.wait_for("no-such-theme", 20, "a notice about the theme")
        flat = " ".join(screen.split())
        assert "nord" in flat and "textual-light" in flat, screen
        assert term.quit() == 0
    assert config_file(home)["theme"] == "no-such-theme"  # the user's text is left alone


def test_a_screenshot_is_saved_in_the_data_folder_and_the_notice_says_where(home, ladder):
    assert not (home.root / "Downloads").exists()
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        palette(term, "screenshot", "Save an SVG")
        folder = home.data / "screenshots"
        screen = term.wait_for("screenshots", 20, "the notice naming the folder")
        assert "Failed" not in screen
        saved = list(folder.glob("*.svg"))
        assert len(saved) == 1 and saved[0].stat().st_size > 1000, saved
        assert "~/.local/share/gguf-tui/screenshots" in screen, screen
        assert term.quit() == 0
