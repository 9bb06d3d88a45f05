"""The running bot, for the tests that need nothing but its defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.bot_harness import RunningBot, running_bot


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path) -> AsyncIterator[RunningBot]:
    """The real bot against the Bot API stand-in, shipped model, SQLite in `tmp_path`."""
    async with running_bot(tmp_path, model_path) as running:
        yield running
