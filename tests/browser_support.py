"""Real-browser tests: the app served by uvicorn on a free port, Debian's headless Chromium.

Never downloads a browser: Playwright drives ``/usr/bin/chromium`` (``.ci/run`` installs it).
Where it is absent the tests are skipped with a reason, except under CI (``CI`` set), where a
missing browser is a failure rather than a silent skip.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
MISSING = f"{CHROMIUM} is not installed (apt-get install chromium)"


def requires_chromium() -> pytest.MarkDecorator:
    """Skip where Chromium is absent, unless under CI: there the test runs and fails."""
    return pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason=MISSING
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with its lifespan (background embedder included) in a thread; yield its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        app.state.engine.dispose()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (Playwright's sync API), closed afterwards."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
