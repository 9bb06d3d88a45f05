"""Security end to end: admin-only commands, owner-only files, no code from model files, no
token in what the bot says, and erasure that really removes a user's photos from disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from bot import texts
from model.mnist import Mnist
from model.serving.modelfile import ModelFileError, load_model
from testkit.bot_harness import TOKEN, RunningBot, photo_of, running_bot

USER = 5501


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    data = tmp_path / "fresh" / "data"
    async with running_bot(
        tmp_path,
        model_path,
        database_url=f"sqlite:///{data / 'bot.sqlite3'}",
        models_dir=data / "models",
    ) as running:
        yield running


@pytest.mark.parametrize("command", ["/name 1 mine", "/name 1", "/retrain", "/retrain now"])
async def test_admin_commands_refuse_everyone_else_and_change_nothing(
    bot: RunningBot, command: str
) -> None:
    bot.telegram.send_text(USER, USER, command)

    [reply] = await bot.telegram.wait_for_replies(USER, 1)
    await bot.settle()

    assert reply["text"] == texts.ADMIN_ONLY
    assert await bot.storage.cluster_names() == {}
    assert await bot.storage.last_retrain() is None


async def test_database_and_model_directory_are_created_owner_only(bot: RunningBot) -> None:
    data = Path(bot.settings.database_url.removeprefix("sqlite:///")).parent

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "bot.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(bot.settings.models_dir.stat().st_mode) == 0o700


async def test_forget_removes_the_photo_bytes_from_the_database_files(
    bot: RunningBot, mnist: Mnist
) -> None:
    photo = photo_of(mnist.test_images[3], size=200)
    marker = photo[len(photo) // 2 : len(photo) // 2 + 48]
    data = Path(bot.settings.database_url.removeprefix("sqlite:///")).parent
    bot.telegram.send_photo_from_user(USER, USER, photo)
    await bot.telegram.wait_for_replies(USER, 1)
    await bot.settle()
    on_disk_before = b"".join(p.read_bytes() for p in data.glob("bot.sqlite3*"))

    erased = await bot.storage.forget_user(USER)

    on_disk_after = b"".join(p.read_bytes() for p in data.glob("bot.sqlite3*"))
    assert marker in on_disk_before
    assert erased == 1
    assert marker not in on_disk_after


async def test_errors_told_to_users_never_carry_the_token(bot: RunningBot, mnist: Mnist) -> None:
    tg = bot.telegram
    tg.fail_next(
        "sendPhoto",
        status=500,
        description=f"Internal error at /bot{TOKEN}/sendPhoto",
        retry_after=None,
    )
    tg.send_photo_from_user(USER, USER, photo_of(mnist.test_images[0]))

    [reply] = await tg.wait_for_replies(USER, 1)

    assert reply["text"] == texts.WORKING_ON_IT_FAILED
    said = [str(call.params) for call in tg.calls if call.method != "getUpdates"]
    assert not [text for text in said if TOKEN in text or TOKEN.split(":")[1] in text]


def test_a_model_file_carrying_a_pickle_is_refused_without_running_it(
    tmp_path: Path, model_path: Path
) -> None:
    evidence = tmp_path / "code-ran"
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays[next(iter(arrays))] = np.array([_Exploit(evidence)], dtype=object)
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **arrays)

    with pytest.raises(ModelFileError):
        load_model(tampered)

    assert not evidence.exists()


class _Exploit:
    """Unpickling this would create a file: proof that code from the model file ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))
