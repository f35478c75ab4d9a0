"""Settings come from the environment, with safe development defaults and hard stops in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.settings import ConfigurationError, Settings, normalise_database_url


def test_development_defaults_use_sqlite_and_make_a_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"POSTPACT_VAR_DIR": str(tmp_path)})
    assert settings.db.is_sqlite
    assert settings.db.url == f"sqlite+aiosqlite:///{tmp_path / 'postpact.db'}"
    assert len(settings.app.secret_key) >= 32
    # The generated secret is kept, so sessions survive a restart.
    assert Settings.from_env({"POSTPACT_VAR_DIR": str(tmp_path)}).app.secret_key == settings.app.secret_key
    assert settings.runs_tasks_in_process
    assert not settings.stripe.enabled


def test_production_refuses_missing_secret_and_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Settings.from_env({"POSTPACT_ENV": "production", "POSTPACT_VAR_DIR": str(tmp_path)})
    message = str(excinfo.value)
    assert "SECRET_KEY is not set" in message
    assert "SQLite" in message


def test_production_accepts_postgres_and_a_long_secret() -> None:
    settings = Settings.from_env(
        {
            "POSTPACT_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgres://app:pw@db.internal/postpact",
            "REDIS_URL": "redis://cache:6379/0",
        }
    )
    assert settings.db.url == "postgresql+asyncpg://app:pw@db.internal/postpact"
    assert not settings.runs_tasks_in_process


def test_production_refuses_short_secret_and_stripe_without_webhook_secret() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        Settings.from_env(
            {
                "POSTPACT_ENV": "production",
                "SECRET_KEY": "short",
                "DATABASE_URL": "postgresql://db/postpact",
                "STRIPE_SECRET_KEY": "sk_live_x",
            }
        )
    assert "shorter than 32" in str(excinfo.value)
    assert "STRIPE_WEBHOOK_SECRET" in str(excinfo.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_are_given_async_drivers(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_unknown_environment_and_bad_numbers_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="POSTPACT_ENV"):
        Settings.from_env({"POSTPACT_ENV": "staging"})
    with pytest.raises(ConfigurationError, match="PLATFORM_FEE_BPS"):
        Settings.from_env({"PLATFORM_FEE_BPS": "ten", "SECRET_KEY": "x" * 40})
