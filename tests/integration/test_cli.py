"""The `postpact` command line: migrations, demo data and admins created outside sign-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from marketplace.cli import main
from marketplace.settings import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "POSTPACT_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "POSTPACT_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "cli-secret-key-long-enough-0123456789",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_migrate_seed_and_create_admin(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    seeded = runner.invoke(main, ["seed", "--if-empty"])
    assert seeded.exit_code == 0, seeded.output
    assert "owner@glowlab.test" in seeded.output and "admin@postpact.test" in seeded.output
    again = runner.invoke(main, ["seed", "--if-empty"])
    assert "already loaded" in again.output and "owner@glowlab.test" in again.output
    _assert_demo_covers_the_product(cli_env["DATABASE_URL"].replace("sqlite:///", ""))
    created = runner.invoke(main, ["create-admin", "Ops@PostPact.test", "--password", "an-admin-passphrase"])
    assert created.exit_code == 0, created.output
    duplicate = runner.invoke(main, ["create-admin", "ops@postpact.test", "--password", "an-admin-passphrase"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    weak = runner.invoke(main, ["create-admin", "weak@postpact.test", "--password", "short"])
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output


def test_production_settings_error_is_reported_not_a_traceback(cli_env, monkeypatch) -> None:
    monkeypatch.setenv("POSTPACT_ENV", "production")
    monkeypatch.delenv("SECRET_KEY")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "SECRET_KEY is not set" in result.output


def _assert_demo_covers_the_product(path: str) -> None:
    """The demo shows gigs in every status and deals at many stages, with money and reputation that add up."""
    import sqlite3

    with sqlite3.connect(path) as db:
        gig_statuses = {row[0] for row in db.execute("SELECT status FROM gig")}
        deal_statuses = {row[0] for row in db.execute("SELECT status FROM collaboration")}
        escrow = {row[0] for row in db.execute("SELECT status FROM escrow_hold")}
        outcomes = {row[0] for row in db.execute("SELECT kind FROM reputation_event")}
        unbalanced = db.execute(
            "SELECT transaction_id FROM ledger_entry GROUP BY transaction_id, currency HAVING SUM(amount) <> 0"
        ).fetchall()
    assert gig_statuses == {"draft", "open", "closed", "archived"}
    assert {"offered", "signed", "shipped", "draft_submitted", "posted", "completed", "ghosted"} <= deal_statuses
    assert {"funded", "released", "refunded"} <= escrow
    assert {"creator.on_time", "creator.ghosted", "brand.released_on_time", "rating"} <= outcomes
    assert unbalanced == []
