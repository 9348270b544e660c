"""Settings from options, ``FENGQIAO_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from workflows.errors import BadInput

__all__ = ["Settings", "load_settings", "parse_time"]

# Times outside these years are typing mistakes; far ones would overflow date arithmetic.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_time(text: str, *, zone: ZoneInfo, what: str = "time") -> datetime:
    """An ISO 8601 time; one without an offset (or a bare date) is read in ``zone``."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{what} {text!r} is not an ISO 8601 time (e.g. 2026-11-22T09:30+08:00)"
        ) from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise BadInput(f"{what} {text!r} is outside the years {FIRST_YEAR}-{LAST_YEAR}")
    if parsed.tzinfo is None:
        if len(value) == 10:  # a bare date: its start
            parsed = datetime.combine(parsed.date(), time(0))
        parsed = parsed.replace(tzinfo=zone)
    return parsed


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FENGQIAO_", env_file=".env", extra="ignore", validate_default=True
    )

    db: str = "sqlite:///fengqiao.db"
    rules: Path | None = None
    now: str | None = None
    timezone: str | None = None
    smtp: str | None = None  # an Apprise mailto URL without "to", for the e-mail channel
    base_url: str | None = None  # the web app's public address, for the links in messages
    https: bool = False  # the web app is served over HTTPS: its cookies are Secure
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] | None = None  # per command

    @field_validator("db")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql", "postgres:")):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        try:
            make_url(value)
        except (ArgumentError, ValueError) as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        return value

    @field_validator("base_url")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// address")
        return value.rstrip("/") if value else value

    @field_validator("now")
    @classmethod
    def _a_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value, zone=ZoneInfo("UTC"), what="time")  # the zone is checked later
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def load_settings(**overrides: object) -> Settings:
    """Settings with the given options taking precedence; one clear line if invalid, naming
    what was set: the option, the environment variable, or the variable in ``.env``."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "settings"
        message = error["msg"].removeprefix("Value error, ")
        raise BadInput(f"setting {name} ({_set_as(name, options=given)}): {message}") from None


def _set_as(name: str, *, options: Mapping[str, object]) -> str:
    """How the user set the setting ``name``: by its option (named with its variable, as
    the help names them), by its variable, or by the variable in ``.env``."""
    variable = f"{Settings.model_config.get('env_prefix', '')}{name}".upper()
    if name in options:
        return f"--{name} or {variable}"
    if variable in (key.upper() for key in os.environ):
        return variable
    return f"{variable} in {Settings.model_config.get('env_file')}"
