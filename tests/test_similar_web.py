"""Similar ideas on the site, through the real app and database with a real (fast) model.

Suggestions while typing (the HTML fragment veche.js fetches), the "check for similar ideas"
step before publishing without JavaScript, "support this instead", the browse page's search by
meaning, the moderators' list of possible duplicates, and the site without a ready model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.similar_support import (
    OTHERS,
    TARGET,
    TYPED,
    UNRELATED,
    category_id,
    plant,
    plant_corpus,
    settle,
    similar_app,
)
from webapp.kernel.dto import CurrentUser
from webapp.kernel.security import RateLimiter
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, IdeaEmbedding, Vote

ID_RE = re.compile(r'data-similar-id="(\d+)"')


@pytest.fixture
def sim_app(settings: Settings) -> Iterator[Starlette]:
    application = similar_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def site(sim_app: Starlette) -> Iterator[Browser]:
    with Browser(sim_app) as b:
        yield b


@pytest.fixture
def author(sim_app: Starlette) -> CurrentUser:
    return make_user(sim_app.state.session_factory, "author@example.org")


@pytest.fixture
def corpus(sim_app: Starlette, site: Browser, author: CurrentUser) -> dict[str, int]:
    return plant_corpus(sim_app, author)


def fragment(site: Browser, title: str, description: str, **extra: Any) -> Any:
    return site.get("/ideas/similar", params={"title": title, "description": description, **extra})


def suggested(html: str) -> list[int]:
    return [int(i) for i in ID_RE.findall(html)]


def count(factory: Any, model: Any, *where: Any) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def idea_form(site: Browser, factory: Any, text: tuple[str, str], **extra: str) -> dict[str, str]:
    return {
        "title": text[0],
        "body": text[1],
        "category_id": str(category_id(factory)),
        "district_id": "",
        **extra,
    }


# --- suggestions while typing -------------------------------------------------------------------


def test_fragment_suggests_the_near_duplicate_first_and_never_hidden_or_merged(
    site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    site.login(author.email)
    response = fragment(site, *TYPED)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    ids = suggested(response.text)
    assert ids and ids[0] == corpus["target"], ids
    assert corpus["hidden"] not in ids and corpus["merged"] not in ids
    assert TARGET[0] in response.text
    # Its status, supporters, the badge, and a support form with the session's CSRF token.
    item = response.text.split(f'data-similar-id="{corpus["target"]}"', 1)[1].split("</li>", 1)[0]
    assert "Опубликована" in item and "data-support-count>0<" in item
    assert "Вероятно, дубликат" in item
    assert f'action="/ideas/{corpus["target"]}/support"' in item
    assert 'name="csrf_token" value="' in item and "Поддержать эту вместо своей" in item


def test_an_exact_copy_is_named_in_plain_words(site: Browser, corpus: dict[str, int]) -> None:
    html = fragment(site, *TARGET).text
    item = html.split(f'data-similar-id="{corpus["target"]}"', 1)[1]
    assert "точная копия" in item.split("</li>", 1)[0]


def test_fragment_never_suggests_the_excluded_idea(site: Browser, corpus: dict[str, int]) -> None:
    ids = suggested(fragment(site, *TARGET, exclude=str(corpus["target"])).text)
    assert corpus["target"] not in ids
    assert corpus["hidden"] not in ids and corpus["merged"] not in ids


def test_fragment_waits_for_enough_text_and_ignores_bad_input(
    site: Browser, corpus: dict[str, int]
) -> None:
    assert suggested(fragment(site, "Вело", "").text) == []
    for bad in ({"exclude": "abc"}, {"exclude": str(10**30)}, {"title": "\x00" * 20}):
        response = site.get("/ideas/similar", params={"title": TYPED[0], **bad})
        assert response.status_code == 200


def test_fragment_is_rate_limited_per_client(
    sim_app: Any, site: Browser, corpus: dict[str, int]
) -> None:
    sim_app.state.limiters["similar"] = RateLimiter(2, 60.0)
    assert fragment(site, *TYPED).status_code == 200
    assert fragment(site, *TYPED).status_code == 200
    limited = fragment(site, *TYPED)
    assert limited.status_code == 429 and limited.headers["retry-after"]
    # Too-short text asks nothing, so it is not counted.
    assert fragment(site, "Вело", "").status_code == 200


def test_a_typist_over_the_lookup_limit_can_still_publish(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    sim_app.state.limiters["similar"] = RateLimiter(1, 60.0)
    assert fragment(site, *TYPED).status_code == 200
    assert fragment(site, *TYPED).status_code == 429
    response = site.submit("/ideas/new", idea_form(site, factory, TYPED, similar_seen=""))
    assert response.status_code == 303
    assert count(factory, Idea, Idea.title == TYPED[0]) == 1


def test_the_form_is_wired_for_the_script_and_says_nothing_before_typing(
    site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    site.login(author.email)
    page = site.get("/ideas/new").text
    assert 'data-similar-form data-similar-url="/ideas/similar"' in page
    assert 'aria-live="polite"' in page and "data-similar-region" in page
    assert "data-exclude" not in page
    assert "<script>" not in page and "onclick" not in page  # CSP: scripts only from files


# --- the check before publishing (no JavaScript) ------------------------------------------------


def test_without_confirmation_similar_ideas_are_shown_and_nothing_is_published(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    before = count(factory, Idea)
    response = site.submit("/ideas/new", idea_form(site, factory, TYPED))
    assert response.status_code == 200
    assert count(factory, Idea) == before
    assert suggested(response.text)[0] == corpus["target"]
    assert 'name="confirm_similar" value="1"' in response.text
    assert "Всё равно опубликовать" in response.text
    assert f'value="{TYPED[0]}"' in response.text  # the draft is kept

    published = site.submit("/ideas/new", idea_form(site, factory, TYPED, confirm_similar="1"))
    assert published.status_code == 303
    assert count(factory, Idea) == before + 1
    with transaction(factory) as s:
        assert s.scalar(select(Idea.id).where(Idea.title == TYPED[0])) is not None


def test_with_nothing_similar_the_idea_is_published_at_once(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    assert suggested(fragment(site, *UNRELATED).text) == []
    response = site.submit("/ideas/new", idea_form(site, factory, UNRELATED))
    assert response.status_code == 303, response.text[:300]
    assert count(factory, Idea, Idea.title == UNRELATED[0]) == 1


def test_a_script_user_who_saw_the_likely_duplicates_is_not_asked_again(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    unseen = site.submit("/ideas/new", idea_form(site, factory, TYPED, similar_seen=""))
    assert unseen.status_code == 200 and count(factory, Idea, Idea.title == TYPED[0]) == 0
    seen = site.submit(
        "/ideas/new", idea_form(site, factory, TYPED, similar_seen=f"{corpus['target']},x")
    )
    assert seen.status_code == 303
    assert count(factory, Idea, Idea.title == TYPED[0]) == 1


def test_invalid_input_is_reported_before_any_check(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    response = site.submit("/ideas/new", idea_form(site, factory, (TYPED[0], "коротко")))
    assert response.status_code == 422
    assert "не короче 20" in response.text
    assert "confirm_similar" not in response.text


def test_the_idea_form_needs_its_csrf_token(
    site: Browser, author: Any, sim_app: Any, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    site.login(author.email)
    before = count(factory, Idea)
    response = site.post("/ideas/new", data=idea_form(site, factory, TYPED, confirm_similar="1"))
    assert response.status_code == 403
    assert count(factory, Idea) == before


# --- support this instead -----------------------------------------------------------------------


def test_support_this_instead_records_the_vote_and_needs_csrf(
    sim_app: Any, site: Browser, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    voter = make_user(factory, "voter@example.org")
    site.login(voter.email)
    html = fragment(site, *TYPED).text
    item = html.split(f'data-similar-id="{corpus["target"]}"', 1)[1]
    action = re.search(r'action="([^"]+/support)"', item)
    token = re.search(r'name="csrf_token" value="([^"]+)"', item)
    assert action and token
    forged = site.post(action.group(1), data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert count(factory, Vote, Vote.idea_id == corpus["target"]) == 0
    response = site.post(action.group(1), data={"csrf_token": token.group(1)})
    assert response.status_code == 303
    assert response.headers["location"] == f"/ideas/{corpus['target']}"
    assert count(factory, Vote, Vote.idea_id == corpus["target"], Vote.user_id == voter.id) == 1


def test_logged_out_visitors_are_led_to_login_to_support(
    site: Browser, corpus: dict[str, int]
) -> None:
    html = fragment(site, *TYPED).text
    assert "data-similar-support" not in html
    assert f"/login?next=/ideas/{corpus['target']}" in html


# --- editing, and the embedder being told --------------------------------------------------------


def test_editing_never_suggests_the_idea_itself(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    site.login(author.email)
    page = site.get(f"/ideas/{corpus['target']}/edit")
    assert page.status_code == 200
    assert f'data-exclude="{corpus["target"]}"' in page.text
    assert corpus["target"] not in suggested(page.text)


def test_a_new_and_an_edited_idea_are_embedded_without_waiting_for_a_scan(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    """The background embedder scans every 30 s; note_changed() wakes it at once."""
    factory = sim_app.state.session_factory
    service = sim_app.state.similarity
    service._last_scan = time.monotonic()  # the next periodic scan is 30 s away
    site.login(author.email)
    response = site.submit("/ideas/new", idea_form(site, factory, UNRELATED))
    assert response.status_code == 303
    idea_id = int(response.headers["location"].rsplit("/", 1)[1])

    def embedded_hash() -> str | None:
        with transaction(factory) as s:
            return s.scalar(select(IdeaEmbedding.text_hash).where(IdeaEmbedding.idea_id == idea_id))

    deadline = time.monotonic() + 10
    while embedded_hash() is None:
        assert time.monotonic() < deadline, "the new idea was not embedded"
        time.sleep(0.05)
    first = embedded_hash()
    edited = idea_form(site, factory, (UNRELATED[0] + " и дети", UNRELATED[1]))
    assert site.submit(f"/ideas/{idea_id}/edit", edited).status_code == 303
    while embedded_hash() == first:
        assert time.monotonic() < deadline, "the edited idea was not re-embedded"
        time.sleep(0.05)


# --- browse by meaning --------------------------------------------------------------------------


def test_browse_by_meaning_lists_ideas_by_similarity(site: Browser, corpus: dict[str, int]) -> None:
    page = site.get("/", params={"q": "велодорожку вдоль набережной", "mode": "meaning"})
    assert page.status_code == 200
    titles = re.findall(r'<h2 class="idea-title"><a href="/ideas/(\d+)"', page.text)
    assert titles and int(titles[0]) == corpus["target"]
    assert str(corpus["hidden"]) not in titles and str(corpus["merged"]) not in titles
    assert len(titles) == 1 + len(OTHERS)  # every public idea, the closest first
    assert 'value="meaning" checked' in page.text
    assert "<option selected>Ближе всего по смыслу</option>" in page.text
    assert "По сходству смысла с «велодорожку вдоль набережной»" in page.text
    by_words = site.get("/", params={"q": "велодорожку вдоль набережной"})
    assert 'value="words" checked' in by_words.text and "По сходству смысла" not in by_words.text


def test_browse_by_meaning_pages_and_filters(settings: Any, author: Any) -> None:
    app = similar_app(settings, page_size=2)
    with Browser(app) as site:
        factory = app.state.session_factory
        writer = make_user(factory, "writer@example.org")
        for text in [TARGET, *OTHERS]:
            plant(factory, writer, text)
        plant(factory, writer, UNRELATED, category="ecology")
        settle(app)
        query = {"q": TYPED[0], "mode": "meaning"}
        first = site.get("/", params=query).text
        second = site.get("/", params={**query, "page": "2"}).text
        third = site.get("/", params={**query, "page": "3"}).text
        ids = [
            re.findall(r'class="idea-title"><a href="/ideas/(\d+)"', p)
            for p in (first, second, third)
        ]
        assert [len(i) for i in ids] == [2, 2, 1]
        assert len({i for page in ids for i in page}) == 5
        assert 'rel="next"' in first and "mode=meaning" in first
        eco = category_id(factory, "ecology")
        only = site.get("/", params={**query, "category": str(eco)}).text
        found = re.findall(r'class="idea-title"><a href="/ideas/(\d+)"', only)
        assert len(found) == 1
        empty = site.get("/", params={**query, "category": str(category_id(factory, "culture"))})
        assert "Нет идей, близких по смыслу" in empty.text
    app.state.engine.dispose()


# --- without a ready model ----------------------------------------------------------------------


def test_the_site_works_while_the_model_is_loading(settings: Any) -> None:
    app = similar_app(settings)
    site = Browser(app)  # no lifespan: the service never starts, as while a model loads
    factory = app.state.session_factory
    user = make_user(factory, "early@example.org")
    plant(factory, user, TARGET)
    assert app.state.similarity.status == "loading"
    site.login(user.email)
    form = site.get("/ideas/new").text
    assert "Подсказки похожих идей загружаются" in form
    frag = fragment(site, *TYPED)
    assert frag.status_code == 200 and suggested(frag.text) == []
    assert "загружаются" in frag.text
    response = site.submit("/ideas/new", idea_form(site, factory, TYPED))
    assert response.status_code == 303  # published at once: nothing to check against yet
    browse = site.get("/", params={"q": "велодорожка", "mode": "meaning"})
    assert browse.status_code == 200
    assert "Пока список показывает совпадения по словам" in browse.text
    assert TARGET[0] in browse.text  # the words search answers meanwhile
    app.state.engine.dispose()


def test_the_site_works_with_suggestions_turned_off(settings: Any) -> None:
    app = similar_app(settings, embedding_model="off")
    with Browser(app) as site:
        factory = app.state.session_factory
        user = make_user(factory, "off@example.org")
        plant(factory, user, TARGET)
        site.login(user.email)
        assert "отключены" in site.get("/ideas/new").text
        assert suggested(fragment(site, *TARGET).text) == []
        response = site.submit("/ideas/new", idea_form(site, factory, TARGET))
        assert response.status_code == 303
    app.state.engine.dispose()


def test_a_failing_lookup_never_blocks_publishing(
    sim_app: Any, site: Browser, author: Any, corpus: dict[str, int]
) -> None:
    """The service breaks mid-way (here: its finder is gone); the citizen still publishes."""
    factory = sim_app.state.session_factory
    site.login(author.email)
    sim_app.state.similarity.finder = None
    frag = fragment(site, *TYPED)
    assert frag.status_code == 200 and suggested(frag.text) == []
    response = site.submit("/ideas/new", idea_form(site, factory, TYPED))
    assert response.status_code == 303


# --- the moderators' page -----------------------------------------------------------------------


def test_duplicates_page_is_for_moderators_only(
    sim_app: Any, site: Browser, corpus: dict[str, int]
) -> None:
    factory = sim_app.state.session_factory
    anonymous = site.get("/moderation/duplicates")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    citizen = make_user(factory, "plain@example.org")
    site.login(citizen.email)
    assert site.get("/moderation/duplicates").status_code == 403
    assert "/moderation/duplicates" not in site.get("/").text


def test_duplicates_page_lists_the_groups_for_a_moderator(
    sim_app: Any, site: Browser, author: Any
) -> None:
    factory = sim_app.state.session_factory
    first = plant(factory, author, TARGET)
    copy = plant(factory, author, (TARGET[0], TARGET[1] + " Пожалуйста."))
    plant(factory, author, OTHERS[0])
    settle(sim_app)
    moderator = make_user(factory, "mod@example.org", role="moderator")
    site.login(moderator.email)
    nav = site.get("/").text
    assert 'href="/moderation/duplicates"' in nav
    page = site.get("/moderation/duplicates")
    assert page.status_code == 200
    assert "Возможные дубликаты" in page.text
    rows = re.findall(r'class="dup-title"[^>]*><a href="/ideas/(\d+)"', page.text)
    assert {first, copy} <= {int(r) for r in rows}, rows
    assert "Опубликована" in page.text and "предлагается оставить" in page.text


def test_duplicates_page_explains_an_empty_list(sim_app: Any, site: Browser) -> None:
    moderator = make_user(sim_app.state.session_factory, "admin@example.org", role="admin")
    site.login(moderator.email)
    page = site.get("/moderation/duplicates", params={"page": "abc"})
    assert page.status_code == 200
    assert "Возможных дубликатов пока нет" in page.text
