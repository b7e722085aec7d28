"""The TUI's export (palette: Export) writes as the command line does."""

from __future__ import annotations

import os

from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, notifications, wait_until


async def test_exporting_onto_a_fifo_from_the_app_is_a_notice_and_writes_nothing(tmp_path):
    """The TUI's export goes through the same safe write as the command line: a FIFO (which
    froze the app) or a device is refused with a notice, and the app goes on."""
    fifo = tmp_path / "out.md"
    os.mkfifo(fifo)
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        conv = app.store.create_conversation("a title")
        app.export_conversation(conv.id, "md", fifo)
        await wait_until(pilot, lambda: "only a regular file" in notifications(app), what="notice")
        assert fifo.is_fifo()
