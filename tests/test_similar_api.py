"""GET /api/v1/ideas/similar through the real app and database with a real (fast) model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from tests.helpers import Browser, make_user
from tests.similar_support import OTHERS, TARGET, TYPED, plant, plant_corpus, similar_app
from webapp.kernel.security import RateLimiter

URL = "/api/v1/ideas/similar"
EN = {"accept-language": "en"}


@pytest.fixture
def sim_app(settings: Any) -> Iterator[Any]:
    application = similar_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(sim_app: Any) -> Iterator[Browser]:
    with Browser(sim_app) as b:
        yield b


@pytest.fixture
def corpus(sim_app: Any, client: Browser) -> dict[str, int]:
    return plant_corpus(sim_app, make_user(sim_app.state.session_factory, "author@example.org"))


@pytest.fixture
def doc(client: Browser) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def conforms(doc: dict[str, Any], response: Any) -> Any:
    """The status is documented for the operation and the body matches its schema."""
    declared = doc["paths"]["/ideas/similar"]["get"]["responses"]
    assert str(response.status_code) in declared, (response.status_code, response.text[:300])
    schema = declared[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert not errors, errors[:3]
    return response.json()


def text_of(pair: tuple[str, str]) -> str:
    return f"{pair[0]}\n{pair[1]}"


def test_the_near_duplicate_comes_first_with_score_status_and_supporters(
    client: Browser, doc: dict[str, Any], corpus: dict[str, int]
) -> None:
    body = conforms(doc, client.get(URL, params={"text": text_of(TYPED)}))
    items = body["items"]
    assert items and items[0]["id"] == corpus["target"]
    first = items[0]
    assert first["title"] == TARGET[0]
    assert first["status"] == "published" and first["support_count"] == 0
    assert first["likely_duplicate"] is True
    assert first["url"].endswith(f"/api/v1/ideas/{corpus['target']}")
    assert first["html_url"].endswith(f"/ideas/{corpus['target']}")
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True) and len(items) <= 5
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_title_and_description_are_the_same_as_text(
    client: Browser, corpus: dict[str, int]
) -> None:
    joined = client.get(URL, params={"text": text_of(TYPED)}).json()
    split = client.get(URL, params={"title": TYPED[0], "description": TYPED[1]}).json()
    assert joined == split


def test_an_exact_copy_says_so(client: Browser, corpus: dict[str, int]) -> None:
    items = client.get(URL, params={"text": text_of(TARGET)}).json()["items"]
    assert items[0]["id"] == corpus["target"]
    assert items[0]["reasons"] == ["exact_copy"] and items[0]["score"] == 1.0


def test_hidden_merged_and_excluded_ideas_are_never_returned(
    client: Browser, corpus: dict[str, int]
) -> None:
    for params in ({"text": text_of(TARGET), "k": "20"}, {"text": text_of(TYPED), "k": "20"}):
        ids = [i["id"] for i in client.get(URL, params=params).json()["items"]]
        assert corpus["hidden"] not in ids and corpus["merged"] not in ids
        excluded = client.get(URL, params={**params, "exclude": str(corpus["target"])}).json()
        assert corpus["target"] not in [i["id"] for i in excluded["items"]]


def test_k_limits_the_answer(client: Browser, corpus: dict[str, int], doc: dict[str, Any]) -> None:
    assert len(client.get(URL, params={"text": text_of(TYPED), "k": "1"}).json()["items"]) == 1
    bad = client.get(URL, params={"text": text_of(TYPED), "k": "21"}, headers=EN)
    assert bad.status_code == 422
    assert conforms(doc, bad)["error"]["fields"]["k"] == "Must be between 1 and 20."


def test_empty_text_is_400_and_oversized_text_422_in_the_callers_language(
    sim_app: Any, client: Browser, doc: dict[str, Any]
) -> None:
    for params in ({}, {"text": "   "}, {"title": "", "description": " "}):
        response = client.get(URL, params=params)
        assert response.status_code == 400
        assert conforms(doc, response)["error"]["message"].startswith("Передайте текст")
    # longer than what the model reads (webapp.dedup.similar_ideas.QUERY_MAX_CHARS; the cost
    # bounds are tested in tests/test_cost_bounds.py)
    too_long = client.get(URL, params={"text": "а" * 2001}, headers=EN)
    assert too_long.status_code == 422
    fields = conforms(doc, too_long)["error"]["fields"]
    assert fields == {"text": "Must be at most 2000 characters long."}


def test_503_with_retry_after_while_the_index_warms_up(settings: Any) -> None:
    app = similar_app(settings)
    client = Browser(app)  # no lifespan: the service never starts, as while a model loads
    plant(app.state.session_factory, make_user(app.state.session_factory, "a1@example.org"), TARGET)
    response = client.get(URL, params={"text": text_of(TYPED)}, headers=EN)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"]["message"].startswith("The similarity index is warming up")
    ru = client.get(URL, params={"text": text_of(TYPED)})
    assert ru.json()["error"]["message"].startswith("Индекс похожих идей загружается")
    document = client.get("/api/v1/openapi.json").json()
    conforms(document, response)
    app.state.engine.dispose()


def test_503_without_retry_when_turned_off(settings: Any) -> None:
    app = similar_app(settings, embedding_model="off")
    with Browser(app) as client:
        response = client.get(URL, params={"text": text_of(TYPED)}, headers=EN)
        assert response.status_code == 503 and "retry-after" not in response.headers
        assert (
            response.json()["error"]["message"] == "Similarity search is turned off on this server."
        )
    app.state.engine.dispose()


def test_lookups_are_rate_limited_per_caller(
    sim_app: Any, client: Browser, corpus: dict[str, int], doc: dict[str, Any]
) -> None:
    sim_app.state.limiters["similar"] = RateLimiter(2, 60.0)
    for _ in range(2):
        assert client.get(URL, params={"text": text_of(TYPED)}).status_code == 200
    limited = client.get(URL, params={"text": text_of(TYPED)})
    assert limited.status_code == 429 and limited.headers["retry-after"]
    conforms(doc, limited)
    # Another caller (here: signed in, so counted by account) is not affected.
    user = make_user(sim_app.state.session_factory, "other@example.org")
    with Browser(sim_app) as other:
        other.login(user.email)
        assert other.get(URL, params={"text": text_of(OTHERS[0])}).status_code == 200


def test_the_operation_is_documented_in_the_openapi_document(doc: dict[str, Any]) -> None:
    validate_spec(doc)
    op = doc["paths"]["/ideas/similar"]["get"]
    assert op["operationId"] == "similar_ideas"
    names = {p["name"] for p in op["parameters"]}
    assert names == {"text", "title", "description", "k", "exclude", "project_id"}
    assert {"200", "400", "422", "429", "503"} <= set(op["responses"])
    item = doc["components"]["schemas"]["SimilarIdea"]
    assert set(item["required"]) == {
        "id",
        "title",
        "status",
        "support_count",
        "score",
        "likely_duplicate",
        "reasons",
        "url",
        "html_url",
    }
