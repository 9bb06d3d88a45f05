"""Settings parsing and the token-redacting log set-up."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import REDACTED, configure_logging
from bot.settings import Settings, SettingsError, default_model_workers, load_settings
from testkit import ROOT
from testkit.bot_harness import TOKEN


def _settings(**values: object):
    return load_settings(_env_file=None, telegram_bot_token=TOKEN, **values)


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ADMIN_IDS",
        "RATE_LIMIT",
        "MODEL_PATH",
        "DATABASE_URL",
        "RETENTION_DAYS",
        "USER_DAILY_PHOTOS",
        "USER_DAILY_MB",
        "STORAGE_CAP_GB",
        "RETRAIN_USER_DIGITS",
        "MODEL_WORKERS",
        "TELEGRAM_MAX_RATE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = _settings()
    assert settings.admin_ids == frozenset()
    assert settings.rate_limit == (30, 60.0)
    assert settings.model_path == Path("data/model.npz")
    assert settings.database_url == "sqlite:///data/bot.sqlite3"
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.retention_days == 365
    assert (settings.user_daily_photos, settings.user_daily_bytes) == (200, 50 * 1024**2)
    assert settings.stored_bytes_cap == 10 * 1000**3
    assert settings.retrain_user_digits == 20_000
    assert settings.retrain_min_acc == 0.97
    assert settings.model_workers == default_model_workers()
    assert settings.telegram_max_rate == 30.0


def test_values_from_the_environment_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12, 34 56")
    monkeypatch.setenv("RATE_LIMIT", "5/10s")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("RETENTION_DAYS", "")
    monkeypatch.setenv("STORAGE_CAP_GB", "0")
    monkeypatch.setenv("MAX_IMAGE_MB", "2.5")
    monkeypatch.setenv("MODEL_WORKERS", "")
    monkeypatch.setenv("TELEGRAM_MAX_RATE", "12.5")
    settings = _settings()
    assert settings.admin_ids == frozenset({12, 34, 56})
    assert settings.rate_limit == (5, 10.0)
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081"
    assert settings.retention_days == 0  # empty kept images forever, and still does
    assert settings.stored_bytes_cap is None
    assert settings.max_image_bytes == int(2.5 * 1024 * 1024)
    assert settings.model_workers == default_model_workers()
    assert settings.telegram_max_rate == 12.5
    monkeypatch.setenv("MODEL_WORKERS", "3")
    assert _settings().model_workers == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
@pytest.mark.parametrize("cores", [1, 2, 3])
def test_model_workers_leave_the_bot_a_core(cores: int) -> None:
    if len(os.sched_getaffinity(0)) < cores:
        pytest.skip(f"this machine has fewer than {cores} cores")
    allowed = sorted(os.sched_getaffinity(0))[:cores]
    shown = subprocess.run(
        [sys.executable, "-c", _WORKERS_ON_CORES.format(cores=allowed)],
        env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "MODEL_WORKERS": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(shown.stdout) == max(1, cores - 1)


_WORKERS_ON_CORES = """
import os
os.sched_setaffinity(0, {cores})
from bot.settings import load_settings
print(load_settings(_env_file=None).model_workers)
"""


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("RATE_LIMIT", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nRATE_LIMIT=100/hour\n")
    settings = load_settings(_env_file=env_file)
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert settings.rate_limit == (100, 3600.0)
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate_limit": "lots"}, "RATE_LIMIT is invalid: write it as messages per period"),
        ({"rate_limit": "0/minute"}, "RATE_LIMIT is invalid"),
        ({"admin_ids": "1,two"}, "ADMIN_IDS is invalid: write Telegram user ids"),
        ({"log_level": "LOUD"}, "LOG_LEVEL is invalid"),
        ({"max_image_mb": "50"}, "MAX_IMAGE_MB is invalid"),
        ({"model_workers": "0"}, "MODEL_WORKERS is invalid"),
        ({"telegram_max_rate": "0"}, "TELEGRAM_MAX_RATE is invalid"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(values: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        _settings(**values)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("DEBUG", TOKEN, stream)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_token_is_redacted_from_messages_arguments_and_tracebacks(log_output: io.StringIO) -> None:
    log = logging.getLogger("telegram.Bot")
    log.debug("Set Bot API URL: %s", f"https://api.telegram.org/bot{TOKEN}")
    try:
        raise RuntimeError(f"POST /bot{TOKEN}/getMe failed")
    except RuntimeError:
        log.exception("request failed")

    text = log_output.getvalue()
    assert TOKEN not in text
    assert f"https://api.telegram.org/bot{REDACTED}" in text
    assert f"RuntimeError: POST /bot{REDACTED}/getMe failed" in text


def test_env_example_documents_every_setting() -> None:
    example = ROOT / ".env.example"
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.read_text().splitlines()
        if "=" in line and line.split("=", 1)[0].lstrip("# ").strip().isupper()
    }
    assert documented == {name.upper() for name in Settings.model_fields}
