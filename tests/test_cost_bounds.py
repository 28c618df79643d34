"""Cost bounds of the expensive anonymous paths (issue #12, findings 5 and 10).

Search by meaning, the live suggestions, the check before publishing and the similar-ideas API
all embed text: each has an input cap, a rate limit, a cache and a per-worker concurrency bound.
The lexical ``hashing-char-ngrams`` model keeps these tests fast; ``bench/cost_bounds.py``
measures the real default model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import Browser, make_user
from tests.similar_support import (
    OTHERS,
    TARGET,
    TYPED,
    category_id,
    plant,
    plant_corpus,
    settle,
    similar_app,
)
from webapp.dedup.similar_ideas import QUERY_MAX_CHARS, query_text
from webapp.dedup.views import similar as similar_views
from webapp.kernel.security import RateLimiter

API = "/api/v1/ideas/similar"
EN = {"accept-language": "en"}
IDS = re.compile(r'class="idea-title"><a href="/ideas/(\d+)"')


@pytest.fixture
def sim_app(settings: Any) -> Iterator[Any]:
    application = similar_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def site(sim_app: Any) -> Iterator[Browser]:
    with Browser(sim_app) as b:
        yield b


@pytest.fixture
def corpus(sim_app: Any, site: Browser) -> dict[str, int]:
    return plant_corpus(sim_app, make_user(sim_app.state.session_factory, "author@example.org"))


class Spy:
    """Records the texts the finder embeds for lookups (the background embedder is idle once
    the corpus is settled)."""

    def __init__(self, finder: Any) -> None:
        self.texts: list[str] = []
        self._embed = finder.embed
        self._lock = threading.Lock()

    def __call__(self, texts: Any) -> Any:
        with self._lock:
            self.texts.extend(texts)
        return self._embed(texts)


@pytest.fixture
def spy(sim_app: Any, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> Spy:
    finder = sim_app.state.similarity.finder
    recorder = Spy(finder)
    monkeypatch.setattr(finder, "embed", recorder)
    return recorder


def meaning(site: Browser, q: str, **extra: str) -> Any:
    return site.get("/", params={"q": q, "mode": "meaning", **extra})


# --- rate limits --------------------------------------------------------------------------------


def test_search_by_meaning_has_its_own_limit_and_falls_back_to_words(
    sim_app: Any, site: Browser, corpus: dict[str, int]
) -> None:
    assert sim_app.state.settings.rate_limits["search"] == 30
    sim_app.state.limiters["search"] = RateLimiter(2, 60.0)
    assert meaning(site, "велодорожка").status_code == 200
    assert meaning(site, "набережная").status_code == 200
    # the same words again (another page, a filter) come from the cache and are not counted
    assert meaning(site, "велодорожка", page="2").status_code == 200
    limited = meaning(site, "велодорожка вдоль набережной")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    # not an error page: the words search answers, with a notice in the visitor's language
    assert "Вы слишком часто искали по смыслу" in limited.text
    assert "Пока список показывает совпадения по словам" in limited.text
    assert corpus["target"] in [int(i) for i in IDS.findall(limited.text)]
    # the similar-ideas bucket is separate
    assert site.get(API, params={"text": "\n".join(TYPED)}).status_code == 200


def test_the_similar_api_is_rate_limited_and_charged_by_length(
    sim_app: Any, site: Browser, corpus: dict[str, int]
) -> None:
    sim_app.state.limiters["similar"] = RateLimiter(3, 60.0)
    text = "\n".join(TYPED)
    assert len(text) <= similar_views.CHARGE_CHARS
    for _ in range(3):
        assert site.get(API, params={"text": text}).status_code == 200
    limited = site.get(API, params={"text": text}, headers=EN)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"]["message"].startswith("You are doing this too often")
    # a long text counts one hit per started 500 characters: 1,501 characters are four hits
    sim_app.state.limiters["similar"] = RateLimiter(4, 60.0)
    long_text = (text + " ") * 20
    long_text = long_text[:1501]
    assert similar_views.charge(long_text) == 4
    assert site.get(API, params={"text": long_text}).status_code == 200
    assert site.get(API, params={"text": text}).status_code == 429


# --- input caps ---------------------------------------------------------------------------------


def test_over_long_api_text_is_422_as_its_openapi_parameters_declare(
    site: Browser, corpus: dict[str, int], spy: Spy
) -> None:
    doc = site.get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/ideas/similar"]["get"]["parameters"]}
    for name in ("text", "title", "description"):
        assert params[name]["schema"]["maxLength"] == QUERY_MAX_CHARS == 2000
    too_long = site.get(API, params={"text": "а" * 2001}, headers=EN)
    assert too_long.status_code == 422
    assert too_long.json()["error"]["fields"] == {"text": "Must be at most 2000 characters long."}
    russian = site.get(API, params={"text": "а" * 2001})
    assert russian.json()["error"]["fields"]["text"] == "Должно быть не длиннее 2000 символов."
    # each part fits, together they do not
    both = site.get(API, params={"title": "т" * 1000, "description": "д" * 1500}, headers=EN)
    assert both.status_code == 422
    assert both.json()["error"]["fields"] == {
        "description": "The text is too long: at most 2000 characters."
    }
    assert spy.texts == []  # nothing was embedded
    assert site.get(API, params={"text": "а" * 2000}).status_code == 200


def test_the_site_cuts_what_it_embeds_to_what_the_model_reads(
    sim_app: Any, site: Browser, corpus: dict[str, int], spy: Spy
) -> None:
    factory = sim_app.state.session_factory
    user = make_user(factory, "long@example.org")
    site.login(user.email)
    long_body = (TYPED[1] + " ") * 100  # about 8,000 characters
    data = {"title": TYPED[0], "body": long_body, "category_id": category_id(factory)}
    response = site.submit("/ideas/new", data)
    assert response.status_code in (200, 303)
    fragment = site.get("/ideas/similar", params={"title": TYPED[0], "description": long_body})
    assert fragment.status_code == 200
    meaning(site, "велодорожка " * 40)  # the search box keeps 200 characters
    assert spy.texts, "nothing was embedded"
    assert max(len(t) for t in spy.texts) <= QUERY_MAX_CHARS
    assert any(len(t) == QUERY_MAX_CHARS for t in spy.texts)  # the check before publishing
    assert query_text("  a \t b \n\n c  ") == "a b\nc"


# --- the cache ----------------------------------------------------------------------------------


def test_a_repeated_lookup_does_not_call_the_encoder_again(
    sim_app: Any, site: Browser, corpus: dict[str, int], spy: Spy
) -> None:
    first = meaning(site, "велодорожка вдоль набережной")
    assert first.status_code == 200 and len(spy.texts) == 1
    again = meaning(site, "  велодорожка   вдоль набережной ", page="1")  # the same, normalised
    assert again.text.count("idea-title") == first.text.count("idea-title")
    assert len(spy.texts) == 1
    text = "\n".join(TYPED)
    site.get(API, params={"text": text})
    site.get(API, params={"text": text})
    site.get(API, params={"title": TYPED[0], "description": TYPED[1]})
    assert len(spy.texts) == 2
    # a new idea shows up at once: the cached ranking is dropped when the index moves on, the
    # vector of the typed text is kept
    svc = sim_app.state.similarity
    encodes = svc.encodes
    new_id = plant(
        sim_app.state.session_factory,
        make_user(sim_app.state.session_factory, "new@example.org"),
        (TARGET[0] + " и парка", TARGET[1]),
    )
    settle(sim_app)
    spy.texts.clear()
    after = meaning(site, "велодорожка вдоль набережной")
    assert new_id in [int(i) for i in IDS.findall(after.text)]
    assert [t for t in spy.texts if "велодорожка вдоль" in t] == []
    assert svc.encodes == encodes


# --- the concurrency bound ----------------------------------------------------------------------


def test_at_most_the_configured_lookups_run_at_once_per_worker(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(similar_views, "SLOT_WAIT_SECONDS", 0.2)
    app = similar_app(settings, similar_concurrency=1)
    try:
        with Browser(app) as site:
            factory = app.state.session_factory
            writer = make_user(factory, "writer@example.org")
            for planted in [TARGET, *OTHERS]:
                plant(factory, writer, planted)
            settle(app)
            svc = app.state.similarity
            text = "\n".join(TYPED)
            assert site.get(API, params={"text": text}).status_code == 200  # now cached
            assert svc.slots.acquire(blocking=False)  # another lookup holds the only slot
            try:
                busy = site.get(API, params={"text": text + " срочно"}, headers=EN)
                assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
                assert busy.json()["error"]["message"].startswith("Too many similarity lookups")
                fragment = site.get(
                    "/ideas/similar", params={"title": TYPED[0], "description": "другое"}
                )
                assert fragment.status_code == 503 and fragment.headers["retry-after"]
                page = meaning(site, "велодорожка")
                assert page.status_code == 503 and page.headers["retry-after"] == "2"
                assert "Поиск по смыслу сейчас перегружен" in page.text
                assert "совпадения по словам" in page.text
                # a cached lookup needs no slot
                assert site.get(API, params={"text": text}).status_code == 200
            finally:
                svc.slots.release()
            assert site.get(API, params={"text": text + " срочно"}).status_code == 200
            assert meaning(site, "велодорожка").status_code == 200
    finally:
        app.state.engine.dispose()
