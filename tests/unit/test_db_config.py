"""The database config a runtime is built with (``db.make_alchemy_config``)."""

from __future__ import annotations

import sys

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig

from marketplace.db import make_alchemy_config
from marketplace.settings import Settings


def test_a_process_can_build_more_configs_than_the_recursion_limit() -> None:
    """advanced-alchemy finds a free scope key by probing key_1, key_2... one stack frame each; the test suite builds
    a config per test, so a worker used to fail around its 930th. Every config gets keys of its own instead."""
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "s" * 40,
                                  "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    # Taken defaults, as a long-running process would have them, must not make the next config probe them.
    SQLAlchemyAsyncConfig._SESSION_SCOPE_KEY_REGISTRY.add("_sqlalchemy_db_session")
    configs = [make_alchemy_config(settings) for _ in range(sys.getrecursionlimit() + 50)]
    keys = [(c.session_scope_key, c.engine_app_state_key, c.session_maker_app_state_key) for c in configs]
    assert len(set(keys)) == len(keys)
    assert all(len(set(k)) == 3 for k in keys)
