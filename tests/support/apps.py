"""One app per test process and shape of settings, bound to each test's runtime.

Building the app costs ~0.5-0.9 s of CPU (Litestar reads ~640 handlers, their signatures and the routing trie) and
a thousand tests asked for one. Everything a test varies lives in its runtime (database, clock, queue, settings,
session store), which ``bind_runtime`` swaps into an app kept for that ``AppShape``; a test with other settings of
the shape (trusted proxies, an https address, production) gets an app of its own shape.
``POSTPACT_TEST_FRESH_APP=1`` builds a new app for every test instead (to compare, or to rule the reuse out).
"""

from __future__ import annotations

import os

from litestar import Litestar

from marketplace.runtime import Runtime

FRESH_APP = os.environ.get("POSTPACT_TEST_FRESH_APP", "").lower() in {"1", "true", "yes"}

_APPS: dict[object, Litestar] = {}


def app_for(runtime: Runtime, *, run_scheduler: bool = False) -> Litestar:
    """An app serving with ``runtime`` (its lifespan not started): the one kept for its shape, or a new one."""
    from marketplace.app import AppShape, bind_runtime, create_app

    if FRESH_APP:
        return create_app(runtime=runtime, run_scheduler=run_scheduler)
    shape = AppShape.of(runtime.settings, run_scheduler)
    app = _APPS.get(shape)
    if app is None:
        app = _APPS[shape] = create_app(runtime=runtime, run_scheduler=run_scheduler)
        return app
    return bind_runtime(app, runtime)
