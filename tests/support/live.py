"""A real server for browser tests: uvicorn on a free port in a background thread, over a migrated database."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from marketplace.runtime import Runtime
from tests.support.smtp import free_port


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


def start_live_server(runtime: Runtime, **app_kwargs: Any) -> LiveServer:
    from marketplace.app import create_app

    port = free_port()
    app = create_app(runtime=runtime, run_scheduler=False, **app_kwargs)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveServer(url, runtime, server, thread)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.should_exit = True
    raise RuntimeError(f"live server on port {port} did not start")
