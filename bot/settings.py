"""Settings from the environment and ``.env`` (every variable is listed in ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = PROJECT_DIR / "scenarios" / "demo.yaml"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Seconds one Bot API call may take; a send that runs out is "in doubt", never resent.
    telegram_timeout: Annotated[float, Field(gt=0, le=300)] = 30.0
    database_url: str = "sqlite+aiosqlite:///data/leadbot.db"
    scenario: Path = DEFAULT_SCENARIO
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: Annotated[float, Field(gt=0, le=300)] = 20.0
    # One model answer (qualification, a knowledge-base pick) may take this long in all,
    # retries included; then the offline path decides. A prospect is waiting meanwhile.
    openai_budget: Annotated[float, Field(gt=0, le=120)] = 8.0
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    manager_chat_id: int | None = None
    timezone: str = "Europe/Moscow"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    log_level: str = "INFO"
    retention_days: Annotated[int, Field(ge=0, le=36500)] = 0
    payment_provider_token: SecretStr | None = None
    # Telegram itself takes ~30 a second (1000 in a paid broadcast's lane); the ceiling is
    # far above that so a test Bot API server (the fakes, benchmark 3) can be served unpaced.
    send_rate: Annotated[float, Field(gt=0, le=100_000)] = 30.0
    chat_rate: Annotated[float, Field(gt=0, le=100)] = 1.0
    crm_webhook_url: str | None = None
    crm_webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    # The managers' dashboard (web/): served when WEB_PORT or WEB_URL is set.
    web_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    web_url: str | None = None
    web_secret: SecretStr | None = None
    # Admins see the dashboard and admin commands in their Telegram language when it is
    # Russian or English; anyone else (or without one) in this.
    admin_language: Literal["ru", "en"] = "en"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a Telegram user id (use e.g. 12345,67890)")
            return [int(p) for p in parts]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"{value!r} is not a database URL") from None
        if url.drivername in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                f"'{url.drivername}' is not an async driver: use sqlite+aiosqlite:// "
                "or postgresql+asyncpg://"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Moscow)") from None
        return value

    @field_validator("telegram_api_url", "openai_base_url", "webhook_url", "web_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("crm_webhook_url")
    @classmethod
    def _crm_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value

    @field_validator("crm_webhook_secret")
    @classmethod
    def _crm_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Every POST is signed, so a webhook without a secret (or a guessable one) is refused."""
        if info.data.get("crm_webhook_url") is None:
            return value
        if value is None:
            raise ValueError("required when CRM_WEBHOOK_URL is set (the HMAC key, 16+ characters)")
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters long")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @property
    def web_enabled(self) -> bool:
        """The managers' dashboard is served (WEB_PORT or WEB_URL is set)."""
        return self.web_port is not None or self.web_url is not None

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"Setting {name}: {message}")
        raise SettingsError("\n".join(lines)) from None
