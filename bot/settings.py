"""The bot's one configuration object, read from the environment and `.env`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import SOURCE_LANGUAGE, language_of, languages

# Telegram tokens look like "123456789:AAH...": a numeric bot id, a colon, a 35-character secret.
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_PERIODS |= {"h": 3600.0, "hour": 3600.0}
_BOTFATHER_HINT = "talk to @BotFather on Telegram (/newbot) and put the token it gives you"


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_model_workers() -> int:
    """Model workers when MODEL_WORKERS is unset: one per core but one, and at least one.

    Under load the bot's own process (updates, database, Bot API requests) keeps most of a
    core busy; a worker on that core only competes with it, and costs its memory.
    """
    return max(1, cpu_cores() - 1)


class SettingsError(ValueError):
    """The configuration cannot start the bot; the message is one line a person can act on."""


class Settings(BaseSettings):
    """Everything the bot reads from outside, validated once at start."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    model_path: Path = Path("data/model.npz")
    models_dir: Path = Path("data/models")
    mnist_dir: Path = Path("data/mnist")
    database_url: str = "sqlite:///data/bot.sqlite3"
    notify_run_endpoint: str | None = None
    notify_telegram_admins: bool = False
    status_url: str | None = None
    retrain_cron: str = "0 3 * * 0"
    status_cron: str = "0 9 * * *"
    retention_cron: str = "30 4 * * *"
    retrain_min_acc: float = Field(0.97, ge=0.0, le=1.0)
    retrain_acc_margin: float = Field(0.002, ge=0.0, le=1.0)
    retrain_max_moved: float = Field(0.10, ge=0.0, le=1.0)
    retrain_limit: int | None = Field(None, ge=100)
    # Updates (messages, commands, button presses, photos) per user per period, across
    # replicas: an album of 10 photos, a button under each and a few commands fit a minute.
    rate_limit: Annotated[tuple[int, float], NoDecode] = (30, 60.0)
    max_image_mb: float = Field(10.0, gt=0.0, le=20.0)
    telegram_max_rate: float = Field(30.0, gt=0.0)
    model_workers: int = Field(default_factory=default_model_workers, ge=1, le=64)
    # Limits where 0 (or empty) means none. Retention and the quotas bound what is stored; the
    # quotas count a user's photos and kept bytes per UTC day.
    retention_days: int = Field(365, ge=0)
    user_daily_photos: int = Field(200, ge=0)
    user_daily_mb: float = Field(50.0, ge=0.0)
    storage_cap_gb: float = Field(10.0, ge=0.0)
    # Retraining reads at most this many of users' digits (a uniform sample); 0: none of them.
    retrain_user_digits: int = Field(20_000, ge=0)
    telegram_api_base_url: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, gt=0, lt=65536)
    log_level: str = "INFO"
    push_language: str = SOURCE_LANGUAGE

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in re.split(r"[,\s]+", value.strip()) if part]
            if not all(part.isdigit() for part in parts):
                raise ValueError("write Telegram user ids separated by commas, e.g. 123,456")
            return frozenset(int(part) for part in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*", value.lower())
        if not match or match.group(3) not in _PERIODS or int(match.group(1)) < 1:
            raise ValueError("write it as messages per period, e.g. 30/minute, 5/10s or 100/hour")
        return int(match.group(1)), float(match.group(2) or 1) * _PERIODS[match.group(3)]

    @field_validator("telegram_api_base_url", "webhook_url", "notify_run_endpoint", "status_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") if value else None

    @field_validator(
        "notify_run_endpoint", "webhook_url", "status_url", "retrain_limit", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "retention_days", "user_daily_photos", "user_daily_mb", "storage_cap_gb", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """`RETENTION_DAYS=` kept images forever before 365 days became the default: it still
        does, and an empty limit is no limit."""
        return 0 if value == "" else value

    @field_validator("model_workers", mode="before")
    @classmethod
    def _empty_is_the_default(cls, value: object) -> object:
        return default_model_workers() if value in ("", None) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("push_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        lang = value.strip().lower()
        if language_of(lang) != lang:
            raise ValueError(f"use one of {', '.join(sorted(languages()))}")
        return lang

    @property
    def max_image_bytes(self) -> int:
        """The size limit in bytes, compared with Telegram's file_size before downloading."""
        return int(self.max_image_mb * 1024 * 1024)

    @property
    def user_daily_bytes(self) -> int:
        """USER_DAILY_MB in bytes (0: no limit)."""
        return int(self.user_daily_mb * 1024 * 1024)

    @property
    def stored_bytes_cap(self) -> int | None:
        """STORAGE_CAP_GB in bytes (a GB is 10^9 bytes, as disks count), or None for no cap."""
        return int(self.storage_cap_gb * 1000**3) or None


def load_settings(**overrides: object) -> Settings:
    """Build `Settings`, turning validation errors into one `SettingsError` line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    name = field.upper()
    if field == "telegram_bot_token":
        # `TELEGRAM_BOT_TOKEN=` as .env.example ships it is not a malformed token: it is none.
        if first["type"] == "missing" or not str(first.get("input") or "").strip():
            return (
                f"TELEGRAM_BOT_TOKEN is not set: {_BOTFATHER_HINT} in {Path.cwd() / '.env'} "
                "(TELEGRAM_BOT_TOKEN=123456:ABC...) or in the environment."
            )
        return f"TELEGRAM_BOT_TOKEN is malformed: {_BOTFATHER_HINT} in .env."
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{name} is invalid: {message}."
