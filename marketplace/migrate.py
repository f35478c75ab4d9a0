"""Applying Alembic migrations from code (the CLI, app start-up in `make run`, and tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from marketplace.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "marketplace" / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
