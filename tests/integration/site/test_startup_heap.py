"""A production process moves what start-up built out of the cyclic collector's reach; development doesn't."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from marketplace.app import create_app
from marketplace.settings import Settings


def _settings(tmp_path: Path, env: str) -> Settings:
    # Production wants PostgreSQL; nothing here connects to it (the engine connects on first use).
    return Settings.from_env({"POSTPACT_ENV": env, "SECRET_KEY": "k" * 40,
                              "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
                              "POSTPACT_VAR_DIR": str(tmp_path / "var"), "PUBLIC_URL": "http://127.0.0.1:1"})


@pytest.mark.parametrize(("env", "frozen"), [("production", True), ("development", False)])
async def test_start_up_objects_are_frozen_in_production_only(tmp_path: Path, env: str, frozen: bool) -> None:
    gc.unfreeze()
    app = create_app(_settings(tmp_path, env), run_scheduler=False)
    try:
        async with app.lifespan():
            assert (gc.get_freeze_count() > 0) is frozen
            if frozen:  # the app itself is among them
                assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
