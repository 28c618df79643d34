"""A real browser (headless Chromium from the system) against the real app served by uvicorn.

A citizen registers, starts typing a new idea slowly, sees the similar idea appear (debounced:
a handful of lookups, not one per key), and supports it instead without losing the draft.
Skipped only where /usr/bin/chromium is absent (.ci/run installs it); never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import PASSWORD, make_user
from tests.similar_support import TARGET, TYPED, plant_corpus, similar_app
from webapp.storage.db import transaction
from webapp.storage.models import User, Vote

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(settings: Any) -> Iterator[tuple[Any, str]]:
    """The app with its lifespan (background embedder included), on a free local port."""
    import uvicorn

    app = similar_app(settings)
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
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        app.state.engine.dispose()


def test_typing_shows_the_similar_idea_and_support_this_instead_records_the_vote(
    served: tuple[Any, str], tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base = served
    factory = app.state.session_factory
    ids = plant_corpus(app, make_user(factory, "author@example.org"))

    lookups: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = browser.new_page(locale="ru-RU")
            page.on(
                "request",
                lambda r: lookups.append(r.url) if "/ideas/similar?" in r.url else None,
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{base}/register")
            page.fill("#email", "typist@example.org")
            page.fill("#display_name", "Наборщица")
            page.fill("#password", PASSWORD)
            page.click("form.stack button[type=submit]")
            page.wait_for_url(f"{base}/")

            page.goto(f"{base}/ideas/new")
            page.locator("#title").press_sequentially(TYPED[0], delay=60)
            page.locator("#body").press_sequentially(TYPED[1][:40], delay=30)
            item = page.locator(f'[data-similar-region] [data-similar-id="{ids["target"]}"]')
            item.wait_for(state="visible", timeout=15_000)
            assert TARGET[0] in item.inner_text()
            assert "Вероятно, дубликат" in item.inner_text()
            region = page.locator("[data-similar-region]")
            shown = region.locator("[data-similar-id]").evaluate_all(
                "els => els.map(e => e.dataset.similarId)"
            )
            assert str(ids["hidden"]) not in shown and str(ids["merged"]) not in shown
            assert shown[0] == str(ids["target"])
            # Debounced: ~75 keys typed 30-60 ms apart, a lookup only after a pause.
            typed_keys = len(TYPED[0]) + 40
            assert 1 <= len(lookups) <= 4, (len(lookups), typed_keys)
            page.screenshot(path=str(tmp_path / "similar.png"), full_page=True)

            item.get_by_role("button", name="Поддержать эту вместо своей").click()
            item.get_by_role("status").wait_for(timeout=10_000)
            assert "Вы поддерживаете эту идею" in item.inner_text()
            assert item.locator("[data-support-count]").inner_text() == "1"
            assert page.url == f"{base}/ideas/new"  # the draft stays
            assert page.locator("#title").input_value() == TYPED[0]
            # The form now carries the ids the citizen has seen.
            seen = page.locator("input[name=similar_seen]").input_value()
            assert str(ids["target"]) in seen.split(",")
            assert errors == []
            if shots := os.environ.get("VECHE_SCREENSHOTS"):
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / "similar-supported.png"), full_page=True)
                shutil.copy(tmp_path / "similar.png", Path(shots) / "similar-typing.png")
        finally:
            browser.close()

    with transaction(factory) as s:
        typist = s.scalar(select(User.id).where(User.email == "typist@example.org"))
        votes = s.scalar(
            select(func.count())
            .select_from(Vote)
            .where(Vote.idea_id == ids["target"], Vote.user_id == typist, Vote.value == 1)
        )
    assert votes == 1
