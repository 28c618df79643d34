"""The moderators' duplicate queue: texts compared side by side, merge, "not duplicates".

Real app, real database, the real duplicate finder with the lexical ``hashing-char-ngrams``
model (as tests/test_dedup_groups.py): the groups come from the embedder, not from fixtures.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from ml.text import join_idea
from tests.helpers import Browser, make_user
from tests.merge_helpers import expected_counts, stored_counts
from tests.similar_support import settle, similar_app
from tests.similarity_helpers import BIKE, BIKE_COPY, OTHER, TREES, TREES_COPY, add_idea, edit
from webapp.dedup import dedup_groups, dismissals
from webapp.dedup.duplicate_queue import queue_page, suggest
from webapp.dedup.embedder import embedder_lock
from webapp.dedup.similar_ideas import SimilarityUnavailable, text_hash
from webapp.dedup.views.diff import DiffBudget, compare_group, compare_page, diff_tokens
from webapp.ideas.votes import cast_vote
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, InvalidInput, PermissionDenied
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    DismissedPair,
    DuplicateGroup,
    DuplicatePair,
    Idea,
    IdeaMerge,
    Vote,
)

BIKE_THIRD = (
    "Велодорожка по Тверской улице",
    "Нужна выделенная велодорожка вдоль Тверской улицы, от Кремля до вокзала.",
)
TREES_HTML = (
    "Plant <b>more</b> trees in Gorky Park",
    "Please plant more shade trees along the paths in Gorky Park. <script>alert('x')</script>",
)
TREES_EDITED = (
    "Plant more trees in Gorky Park",
    "Please plant more shade trees along all the paths in Gorky Park.",
)
REASON = "Different requests: checked with the district office."


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
def factory(sim_app: Starlette) -> sessionmaker[Session]:
    session_factory: sessionmaker[Session] = sim_app.state.session_factory
    return session_factory


@pytest.fixture
def author(factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(factory, "author@example.org", name="Anna Petrova")


@pytest.fixture
def moderator(factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(factory, "moderator@example.org", role="moderator", name="Boris Orlov")


def settled(app: Any) -> None:
    """Every idea embedded and its groups written: the embedder holds its lock from writing a
    batch's vectors until its groups are refreshed, so taking the lock waits for that."""
    settle(app)
    with embedder_lock(app.state.session_factory, app.state.settings, wait=60.0) as got:
        assert got


def groups_now(factory: Any) -> dict[frozenset[int], int]:
    """Open groups as the queue lists them: member set -> group id."""
    with transaction(factory) as s:
        page, total = queue_page(s, limit=50)
    assert total == len(page)
    return {frozenset(m.idea.id for m in g.members): g.id for g in page}


def stored_pairs(factory: Any) -> set[tuple[int, int]]:
    with transaction(factory) as s:
        return {(a, b) for a, b in s.execute(select(DuplicatePair.idea_a, DuplicatePair.idea_b))}


def dismissed_rows(factory: Any) -> dict[tuple[int, int], tuple[str, str]]:
    with transaction(factory) as s:
        rows = s.execute(
            select(
                DismissedPair.idea_a,
                DismissedPair.idea_b,
                DismissedPair.text_hash_a,
                DismissedPair.text_hash_b,
            )
        ).all()
    return {(a, b): (ha, hb) for a, b, ha, hb in rows}


def hash_of(factory: Any, idea_id: int) -> str:
    with transaction(factory) as s:
        idea = s.get(Idea, idea_id)
        assert idea is not None
        return text_hash(join_idea(idea.title, idea.body))


def refresh(app: Any, ids: list[int]) -> None:
    finder = app.state.similarity.finder
    with transaction(app.state.session_factory) as s:
        dedup_groups.refresh(s, finder, ids)


def rebuild(app: Any) -> None:
    finder = app.state.similarity.finder
    with transaction(app.state.session_factory) as s:
        dedup_groups.rebuild_all(s, finder)


def section(page: str, group_id: int) -> str:
    start = page.index(f'id="group-{group_id}"')
    end = page.find("</section>", start)
    return page[start:end]


def card(page: str, group_id: int, idea_id: int) -> str:
    """One member's side-by-side card in a group's section."""
    part = section(page, group_id)
    start = part.index(f'aria-labelledby="dup-{group_id}-{idea_id}"')
    return part[start : part.find("</article>", start)]


@pytest.fixture
def planted(
    sim_app: Starlette, site: Browser, factory: sessionmaker[Session], author: CurrentUser
) -> dict[str, int]:
    """Three bike-lane copies (one group), two tree copies (another), unrelated ideas."""
    ids = {
        "bike": add_idea(factory, author, *BIKE),
        "bike2": add_idea(factory, author, *BIKE_COPY),
        "bike3": add_idea(factory, author, *BIKE_THIRD),
        "trees": add_idea(factory, author, *TREES),
        "trees2": add_idea(factory, author, *TREES_COPY),
    }
    for other in OTHER:
        add_idea(factory, author, *other)
    settled(sim_app)
    groups = groups_now(factory)
    assert set(groups) == {
        frozenset({ids["bike"], ids["bike2"], ids["bike3"]}),
        frozenset({ids["trees"], ids["trees2"]}),
    }
    ids["bikes"] = groups[frozenset({ids["bike"], ids["bike2"], ids["bike3"]})]
    ids["trees_group"] = groups[frozenset({ids["trees"], ids["trees2"]})]
    return ids


# --- the word diff ------------------------------------------------------------------------------


def test_diff_marks_changed_words_and_ignores_case_yo_and_punctuation() -> None:
    tokens = diff_tokens("Ёлки в парке, срочно", "елки в ПАРКЕ; очень срочно!")
    assert [(t.text, t.changed) for t in tokens] == [
        ("елки в ПАРКЕ; ", False),
        ("очень", True),
        (" срочно!", False),
    ]
    glued = diff_tokens("bus to the station", "tram, not bus, to the station")
    assert [t.text for t in glued if t.changed] == ["tram, not"]
    assert "".join(t.text for t in glued) == "tram, not bus, to the station"
    assert all(not t.changed for t in diff_tokens("Same text.", "Same text."))


def test_the_diffs_of_a_page_share_one_budget() -> None:
    budget = DiffBudget(1_000)
    exact = diff_tokens("one two three four", "four three two one", budget)
    assert [t.text for t in exact if t.changed] and 0 < budget.left < 1_000
    budget.left = 0  # spent by the page's earlier diffs: the rest use the linear fallback
    spent = diff_tokens("one two three four", "four three two one", budget)
    assert not any(t.changed for t in spent)  # every word is in the reference
    assert "".join(t.text for t in spent) == "four three two one"


def test_the_suggested_idea_is_the_most_supported_then_the_oldest(
    sim_app: Starlette, site: Browser, factory: sessionmaker[Session], planted: dict[str, int]
) -> None:
    with transaction(factory) as s:
        page, _ = queue_page(s)
    bikes = next(g for g in page if g.id == planted["bikes"])
    assert (bikes.suggested_id, bikes.suggested_because) == (planted["bike"], "oldest")
    assert bikes.members[0].idea.id == planted["bike"] and bikes.members[0].suggested
    # the use-case returns the texts; the views compare them with the suggested idea's
    (compared,) = compare_page([bikes])
    assert compared == compare_group(bikes, DiffBudget())
    keep, *others = compared.members
    assert keep.changed_words == 0 and not any(t.changed for t in (*keep.title, *keep.body))
    assert "".join(t.text for t in keep.title) == bikes.members[0].title
    for shown, member in zip(others, bikes.members[1:], strict=True):
        assert "".join(t.text for t in shown.title) == member.title
        assert "".join(t.text for t in shown.body) == member.body
        marked = [t.text for t in (*shown.title, *shown.body) if t.changed]
        assert shown.changed_words == sum(len(re.findall(r"\w+", t)) for t in marked)
    voter = make_user(factory, "voter@example.org", name="Vera Sokolova")
    with transaction(factory) as s:
        cast_vote(s, voter, planted["bike3"], 1)
    with transaction(factory) as s:
        page, _ = queue_page(s)
    bikes = next(g for g in page if g.id == planted["bikes"])
    assert (bikes.suggested_id, bikes.suggested_because) == (planted["bike3"], "supporters")
    with transaction(factory) as s:
        groups, _ = dedup_groups.list_groups(s)
    members = next(g for g in groups if g.id == planted["bikes"]).members
    assert suggest(tuple(reversed(members))) == (planted["bike3"], "supporters")


# --- the page -----------------------------------------------------------------------------------


def test_queue_shows_both_texts_with_the_differences_marked(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    page = site.get("/moderation/duplicates")
    assert page.status_code == 200
    g = planted["bikes"]
    suggested = card(page.text, g, planted["bike"])
    copy = card(page.text, g, planted["bike2"])
    # the suggested idea in full, unmarked; the copy with its different words in <mark>
    assert BIKE[1] in suggested and "<mark>" not in suggested
    assert (
        f'<a href="/ideas/{planted["bike2"]}"><mark>Велодорожку</mark> на '
        "<mark>Тверскую улицу</mark></a>"
    ) in copy
    assert "<mark>Прошу сделать выделенную велодорожку</mark> вдоль всей Тверской улицы." in copy
    third = card(page.text, g, planted["bike3"])
    assert "<mark>от Кремля до вокзала</mark>." in third and "<mark>по</mark>" in third
    # who, when, status, counts, the link to the idea
    assert "Anna Petrova" in copy and "Опубликована" in copy
    assert re.search(r"<dt>Сторонники</dt><dd>0</dd>", copy)
    assert re.search(r"<dt>Комментарии</dt><dd>0</dd>", copy)
    assert "<time datetime=" in copy
    # score and similarity of the pair with the suggested idea, and why it was proposed
    with transaction(factory) as s:
        pair = s.execute(
            select(DuplicatePair.score, DuplicatePair.similarity).where(
                DuplicatePair.idea_a == planted["bike"], DuplicatePair.idea_b == planted["bike2"]
            )
        ).one()
    # in plain words: how alike, as a percentage; no raw scores, no "vectors"
    assert f"({round(pair.score * 100)} %) с идеей, предложенной к сохранению" in copy
    assert re.search(r"(почти одинаковые|похожи по смыслу|немного похожи) \(\d+ %\)", copy)
    assert "Смысл близок, хотя слова разные" in copy
    assert "вектор" not in page.text and "сила связи" not in page.text
    assert f"{pair.score:.2f}".replace(".", ",") not in copy
    assert "порог" in section(page.text, g)  # the finder's threshold is named
    assert "80 %" in section(page.text, g)
    assert "Больше всего поддержавших" not in section(page.text, g)
    assert "одинаково" in card(page.text, g, planted["bike"])  # why it is suggested: oldest
    # the actions: one radio per member (the suggestion checked), every member ticked to merge
    part = section(page.text, g)
    assert f'action="/moderation/duplicates/{g}/merge"' in part
    assert f'action="/moderation/duplicates/{g}/dismiss"' in part
    assert f'name="canonical" value="{planted["bike"]}" checked' in part
    assert part.count('name="canonical"') == 3
    assert len(re.findall(r'name="merge-\d+" value="1" checked', part)) == 3
    assert not re.search(r'name="apart-\d+" value="1" checked', part)
    assert part.count('name="csrf_token"') == 2
    # the kept idea says «остаётся» (the style sheet hides its "merge" box: see the browser test)
    assert part.count('class="badge badge-ok dup-stays">остаётся<') == 3
    assert "ticked or not" not in part and "отмечена она или нет" not in part
    # "different ideas" is a collapsed section worded positively, not "Not duplicates"
    assert '<details class="collapsible dup-dismiss">' in part
    assert "<summary>Это разные идеи</summary>" in part
    assert "Не дубликаты" not in part


def test_queue_escapes_html_in_idea_texts(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    trees = add_idea(factory, author, *TREES)
    tricky = add_idea(factory, author, *TREES_HTML)
    for other in OTHER:
        add_idea(factory, author, *other)
    settled(sim_app)
    assert frozenset({trees, tricky}) in groups_now(factory)
    site.login(moderator.email)
    text = site.get("/moderation/duplicates").text
    assert "<script>" not in text and "<b>" not in text
    assert "Plant &lt;b&gt;more&lt;/b&gt; trees in Gorky Park" in text  # the plain title
    copy = card(text, groups_now(factory)[frozenset({trees, tricky})], tricky)
    unmarked = copy.replace("<mark>", "").replace("</mark>", "")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in unmarked
    assert "<mark>" in copy


def test_an_exact_copy_is_explained_as_such(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    first = add_idea(factory, author, *BIKE)
    copy = add_idea(factory, author, BIKE[0] + "!", BIKE[1].rstrip("."))
    for other in OTHER:
        add_idea(factory, author, *other)
    settled(sim_app)
    groups = groups_now(factory)
    with transaction(factory) as s:
        reasons = s.scalar(select(DuplicatePair.reasons).where(DuplicatePair.idea_b == copy))
    assert reasons == "exact_copy"
    site.login(moderator.email)
    page = site.get("/moderation/duplicates").text
    assert "Тексты совпадают" in card(page, groups[frozenset({first, copy})], copy)


def test_an_empty_queue_says_what_fills_it(site: Browser, moderator: CurrentUser) -> None:
    site.login(moderator.email)
    page = site.get("/moderation/duplicates")
    assert page.status_code == 200
    assert "Возможных дубликатов пока нет" in page.text
    assert "снова" in page.text  # dismissed pairs come back only after an edit


# --- who may use it -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["citizen", "official"])
def test_every_queue_route_answers_403_to_citizens_and_officials(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    role: str,
) -> None:
    user = make_user(factory, f"{role}@example.org", role=role, name="Olga Smirnova")
    site.login(user.email)
    g = planted["bikes"]
    assert site.get("/moderation/duplicates").status_code == 403
    merge = site.submit(
        f"/moderation/duplicates/{g}/merge",
        {"canonical": str(planted["bike"]), f"merge-{planted['bike2']}": "1", "reason": REASON},
    )
    assert merge.status_code == 403
    dismiss = site.submit(f"/moderation/duplicates/{g}/dismiss", {"reason": REASON})
    assert dismiss.status_code == 403
    with transaction(factory) as s:
        assert s.get_one(DuplicateGroup, g).status == "open"
        assert s.scalar(select(func.count()).select_from(DismissedPair)) == 0
        assert s.get_one(Idea, planted["bike2"]).status == "published"


def test_anonymous_posts_and_forms_without_csrf_are_refused(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    g = planted["bikes"]
    anonymous = site.post(f"/moderation/duplicates/{g}/dismiss", data={"reason": REASON})
    assert anonymous.status_code in (401, 403)
    site.login(moderator.email)
    for action in ("merge", "dismiss"):
        response = site.post(
            f"/moderation/duplicates/{g}/{action}",
            data={
                "canonical": str(planted["bike"]),
                f"merge-{planted['bike2']}": "1",
                "reason": REASON,
                "csrf_token": "forged",
            },
        )
        assert response.status_code == 403
    with transaction(factory) as s:
        assert s.get_one(DuplicateGroup, g).status == "open"
        assert s.get_one(Idea, planted["bike2"]).status == "published"
        assert s.scalar(select(func.count()).select_from(DismissedPair)) == 0


# --- merge --------------------------------------------------------------------------------------


def test_merge_from_the_queue_with_a_chosen_idea_and_some_members(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    g = planted["bikes"]
    keep, fold, stay = planted["bike2"], planted["bike3"], planted["bike"]
    response = site.submit(
        f"/moderation/duplicates/{g}/merge",
        # not the suggestion; the suggestion itself is left out of the merge
        {"canonical": str(keep), f"merge-{fold}": "1", f"merge-{keep}": "1", "reason": REASON},
    )
    assert response.status_code == 303, response.text[:800]
    with transaction(factory) as s:
        merge_id = s.scalar(select(func.max(IdeaMerge.id)))
    assert response.headers["location"] == f"/moderation/duplicates?page=1&merged={merge_id}"
    after = site.get(response.headers["location"]).text
    # the page says what was merged into what and offers the undo
    done = after[
        after.index('id="merge-done"') : after.index("</section>", after.index('id="merge-done"'))
    ]
    assert f"Группа {g} объединена" in done and BIKE_COPY[0] in done and BIKE_THIRD[0] in done
    assert f'action="/moderation/merges/{merge_id}/unmerge"' in done
    assert "Отменить объединение" in done and 'name="csrf_token"' in done
    with transaction(factory) as s:
        folded = s.get(Idea, fold)
        assert folded is not None and (folded.status, folded.merged_into_id) == ("merged", keep)
        assert s.get_one(Idea, stay).status == "published"
        assert s.get_one(Idea, keep).status == "published"
        # the group is still open: the suggestion is left to decide on
        assert s.get_one(DuplicateGroup, g).status == "open"
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "idea.merge")).one()
        assert entry.actor_id == moderator.id and entry.reason == REASON
        assert entry.details["group_id"] == g and entry.details["members"] == [fold]
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action.like("duplicates.%"))
            )
            == 0
        )
    assert groups_now(factory) == {
        frozenset({stay, keep}): g,
        frozenset({planted["trees"], planted["trees2"]}): planted["trees_group"],
    }
    # merging the last one resolves the group
    response = site.submit(
        f"/moderation/duplicates/{g}/merge",
        {"canonical": str(keep), f"merge-{stay}": "1", "reason": REASON},
    )
    assert response.status_code == 303
    with transaction(factory) as s:
        assert s.get_one(DuplicateGroup, g).status == "merged"
    assert set(groups_now(factory)) == {frozenset({planted["trees"], planted["trees2"]})}


HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def undo_form(page: str) -> tuple[str, dict[str, str]]:
    """The «Undo the merge» form of the panel shown right after a merge: action and fields."""
    start = page.index('id="merge-done"')
    panel = page[start : page.index("</section>", start)]
    form = panel[panel.index("<form") : panel.index("</form>")]
    action = re.search(r'action="([^"]+)"', form)
    assert action is not None
    return html.unescape(action.group(1)), {
        k: html.unescape(v) for k, v in HIDDEN_INPUT.findall(form)
    }


def vote_rows(factory: Any) -> list[tuple[int, int, int]]:
    with transaction(factory) as s:
        return sorted(
            (u, i, v) for u, i, v in s.execute(select(Vote.user_id, Vote.idea_id, Vote.value))
        )


def test_undo_right_after_a_merge_restores_every_vote_exactly(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    g, bike, bike2, bike3 = (planted[k] for k in ("bikes", "bike", "bike2", "bike3"))
    # overlapping supporters: a merge must count each citizen once, an undo give each idea back
    # exactly its own supporters
    ballots = {
        "vera": [bike, bike2],
        "gleb": [bike2],
        "zoya": [bike3, bike],
        "ilya": [bike, bike2, bike3],
        "kira": [bike3],
    }
    for name, ideas in ballots.items():
        voter = make_user(factory, f"{name}@example.org", name=name.title())
        for idea_id in ideas:
            with transaction(factory) as s:
                cast_vote(s, voter, idea_id, 1)
    ids = [bike, bike2, bike3]
    votes_before = vote_rows(factory)
    with transaction(factory) as s:
        counts_before = stored_counts(s, ids)
        assert counts_before == expected_counts(s, ids)
    assert counts_before[bike][0] == 3 and counts_before[bike2][0] == 3

    site.login(moderator.email)
    merged = site.submit(
        f"/moderation/duplicates/{g}/merge",
        {"canonical": str(bike), f"merge-{bike2}": "1", f"merge-{bike3}": "1", "reason": REASON},
    )
    assert merged.status_code == 303, merged.text[:800]
    with transaction(factory) as s:
        # merged: each of the five citizens counted once on the kept idea, no vote row touched
        assert stored_counts(s, ids) == expected_counts(s, ids)
        assert s.get_one(Idea, bike).support_count == len(ballots)
        assert s.get_one(Idea, bike2).status == "merged"
    assert vote_rows(factory) == votes_before

    page = site.get(merged.headers["location"]).text
    action, fields = undo_form(page)
    assert fields["back"] == "duplicates" and fields["reason"]
    # the CSRF token is required: a forged one changes nothing
    forged = site.post(action, data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 403
    undone = site.post(action, data=fields)  # the form as the page sends it (its CSRF token)
    assert undone.status_code == 303, undone.text[:800]
    assert undone.headers["location"] == "/moderation/duplicates?page=1"

    assert vote_rows(factory) == votes_before
    with transaction(factory) as s:
        assert stored_counts(s, ids) == counts_before
        assert stored_counts(s, ids) == expected_counts(s, ids)
        assert {s.get_one(Idea, i).status for i in ids} == {"published"}
        record = s.scalars(select(IdeaMerge)).one()
        assert record.undone_at is not None and record.undo_reason == fields["reason"]
        assert s.get_one(DuplicateGroup, g).status == "open"
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "idea.unmerge")).one()
        assert entry.actor_id == moderator.id
    back = site.get(undone.headers["location"]).text
    assert f'id="group-{g}"' in back  # the group is back in the queue
    assert 'id="merge-done"' not in back
    # the panel of an undone merge no longer offers the undo
    again = site.get(merged.headers["location"]).text
    assert "Это объединение отменено" in again and "/unmerge" not in again


def test_long_texts_are_cut_with_show_in_full(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    sentence = "Прошу сделать выделенную велодорожку вдоль всей Тверской улицы от Кремля. "
    long_body = sentence * 20  # about 1,500 characters
    first = add_idea(factory, author, BIKE[0], long_body)
    copy = add_idea(factory, author, BIKE[0] + "!", long_body.strip())
    for other in OTHER:
        add_idea(factory, author, *other)
    settled(sim_app)
    group = groups_now(factory)[frozenset({first, copy})]
    site.login(moderator.email)
    page = site.get("/moderation/duplicates").text
    for idea_id in (first, copy):
        shown = card(page, group, idea_id)
        head = re.search(r'<div class="dup-text" lang="ru">(.*?)</div>', shown, re.S)
        assert head is not None
        visible = re.sub(r"</?mark>", "", head.group(1))
        assert visible.endswith("…") and 250 <= len(visible) <= 320
        assert '<details class="collapsible dup-more">' in shown
        assert "<summary>Показать полностью</summary>" in shown
        # nothing is lost: the first part and the rest make the whole text
        parts = re.findall(r'<div class="dup-text" lang="ru">(.*?)</div>', shown, re.S)
        whole = "".join(re.sub(r"</?mark>", "", p) for p in parts).replace("……", "")
        assert whole.strip() == long_body.strip()
    # a short text is not cut
    short = site.get("/moderation/duplicates").text
    assert short.count("Показать полностью") == 2


def test_a_merge_the_page_cannot_do_is_explained_at_the_group(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    g = planted["bikes"]
    # no reason: the page comes back with the message and the choices as they were sent
    response = site.submit(
        f"/moderation/duplicates/{g}/merge",
        {"canonical": str(planted["bike3"]), f"merge-{planted['bike2']}": "1", "reason": ""},
    )
    assert response.status_code == 422
    part = section(response.text, g)
    assert 'role="alert"' in part and "Обязательное поле" in part
    assert f'name="canonical" value="{planted["bike3"]}" checked' in part
    assert f'name="merge-{planted["bike2"]}" value="1" checked' in part
    assert f'name="merge-{planted["bike"]}" value="1">' in part
    # an idea of another group cannot be slipped in
    response = site.submit(
        f"/moderation/duplicates/{g}/merge",
        {"canonical": str(planted["bike"]), f"merge-{planted['trees']}": "1", "reason": REASON},
    )
    assert response.status_code == 422
    # nothing ticked
    response = site.submit(
        f"/moderation/duplicates/{g}/merge", {"canonical": str(planted["bike"]), "reason": REASON}
    )
    assert response.status_code == 422
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Idea).where(Idea.status == "merged")) == 0


# --- dismiss ------------------------------------------------------------------------------------


def test_dismissing_a_whole_group_stores_every_pair_and_it_is_not_proposed_again(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    g, trees, trees2 = planted["trees_group"], planted["trees"], planted["trees2"]
    response = site.submit(f"/moderation/duplicates/{g}/dismiss", {"reason": REASON})
    assert response.status_code == 303, response.text[:800]
    page = site.get(response.headers["location"]).text
    assert f'id="group-{g}"' not in page and f"Группа {g}" in page  # gone, and said so
    assert dismissed_rows(factory) == {
        (trees, trees2): (hash_of(factory, trees), hash_of(factory, trees2))
    }
    assert (trees, trees2) not in stored_pairs(factory)
    with transaction(factory) as s:
        assert s.get_one(DuplicateGroup, g).status == "dismissed"
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "duplicates.dismiss")).one()
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        moderator.id,
        "duplicate_group",
        g,
    )
    assert entry.reason == REASON
    assert entry.details["before"]["status"] == "open"
    assert entry.details["before"]["pairs"][0][:2] == [trees, trees2]
    assert entry.details["before"]["pairs"][0][2] > 0.5  # the score it had
    assert entry.details["after"]["status"] == "dismissed"
    assert entry.details["after"]["dismissed_pairs"] == [[trees, trees2]]

    # neither an incremental refresh nor a full rebuild proposes the pair again
    refresh(sim_app, [trees, trees2])
    assert (trees, trees2) not in stored_pairs(factory)
    rebuild(sim_app)
    assert (trees, trees2) not in stored_pairs(factory)
    assert frozenset({trees, trees2}) not in groups_now(factory)
    assert frozenset({planted["bike"], planted["bike2"], planted["bike3"]}) in groups_now(factory)
    with transaction(factory) as s:  # the dismissed group stays, as a record
        assert s.get_one(DuplicateGroup, g).status == "dismissed"
        assert (
            s.scalar(
                select(func.count())
                .select_from(DuplicateGroup)
                .where(DuplicateGroup.status == "open")
            )
            == 1
        )

    # an edit that changes one text makes the pair a candidate again
    edit(factory, planted_author(factory, trees2), trees2, *TREES_EDITED)
    settled(sim_app)
    assert (trees, trees2) in stored_pairs(factory)
    assert dismissed_rows(factory) == {}  # the stale dismissal is gone
    groups = groups_now(factory)
    assert frozenset({trees, trees2}) in groups and groups[frozenset({trees, trees2})] != g


def planted_author(factory: Any, idea_id: int) -> Any:
    from webapp.accounts import users as users_service

    with transaction(factory) as s:
        idea = s.get(Idea, idea_id)
        assert idea is not None and idea.author_id is not None
        user = users_service.active_user(s, idea.author_id)
    assert user is not None
    return user


def test_setting_some_members_apart_keeps_the_rest_in_the_group(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    g, bike, bike2, bike3 = (planted[k] for k in ("bikes", "bike", "bike2", "bike3"))
    response = site.submit(
        f"/moderation/duplicates/{g}/dismiss", {f"apart-{bike3}": "1", "reason": REASON}
    )
    assert response.status_code == 303, response.text[:800]
    assert set(dismissed_rows(factory)) == {(bike, bike3), (bike2, bike3)}
    assert (bike, bike2) in stored_pairs(factory)
    assert not {(bike, bike3), (bike2, bike3)} & stored_pairs(factory)
    groups = groups_now(factory)
    assert groups.get(frozenset({bike, bike2})) == g  # the rest keep the group
    assert not any(bike3 in members for members in groups)
    with transaction(factory) as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "duplicates.dismiss")).one()
        assert s.get_one(DuplicateGroup, g).status == "open"
    assert entry.details["after"]["apart"] == [bike3]
    assert set(entry.details["after"]["members"]) == {bike, bike2}

    def refresh_all() -> None:
        refresh(sim_app, [bike, bike2, bike3])

    for again in (refresh_all, lambda: rebuild(sim_app)):
        again()
        groups = groups_now(factory)
        assert frozenset({bike, bike2}) in groups
        assert not any(bike3 in members for members in groups)

    # dismissing the rest too: the group is closed
    response = site.submit(
        f"/moderation/duplicates/{groups[frozenset({bike, bike2})]}/dismiss", {"reason": REASON}
    )
    assert response.status_code == 303
    assert set(dismissed_rows(factory)) == {(bike, bike3), (bike2, bike3), (bike, bike2)}
    assert frozenset({bike, bike2}) not in groups_now(factory)


def test_a_group_dealt_with_cannot_be_dismissed_again(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
) -> None:
    site.login(moderator.email)
    g = planted["trees_group"]
    assert site.submit(f"/moderation/duplicates/{g}/dismiss", {"reason": REASON}).status_code == 303
    again = site.submit(f"/moderation/duplicates/{g}/dismiss", {"reason": REASON})
    assert again.status_code == 409
    assert "Этой группой уже занялся другой модератор" in again.text
    missing = site.submit(f"/moderation/duplicates/{g + 999}/dismiss", {"reason": REASON})
    assert missing.status_code == 404
    beyond = site.submit("/moderation/duplicates/99999999999/merge", {"reason": REASON})
    assert beyond.status_code == 404
    short = site.submit(f"/moderation/duplicates/{planted['bikes']}/dismiss", {"reason": "x"})
    assert short.status_code == 422
    assert len(dismissed_rows(factory)) == 1


def test_dismiss_service_checks_the_role_and_needs_the_finder_to_split_a_group(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
    author: CurrentUser,
) -> None:
    g = planted["bikes"]
    with pytest.raises(PermissionDenied), transaction(factory) as s:
        dismissals.dismiss(s, author, g, reason=REASON)
    with pytest.raises(SimilarityUnavailable), transaction(factory) as s:
        dismissals.dismiss(s, moderator, g, [planted["bike3"]], reason=REASON, finder=None)
    with pytest.raises(InvalidInput), transaction(factory) as s:
        dismissals.dismiss(s, moderator, g, [planted["trees"]], reason=REASON)
    assert dismissed_rows(factory) == {}
    # the whole group can be dismissed while the finder is loading
    with transaction(factory) as s:
        result = dismissals.dismiss(s, moderator, g, reason=REASON, finder=None)
    assert result.whole and not result.regrouped and len(result.pairs) == 3
    with pytest.raises(Conflict), transaction(factory) as s:
        dismissals.dismiss(s, moderator, g, reason=REASON)


def test_a_dismissal_waits_for_the_embedder_and_gives_up_during_a_reindex(
    sim_app: Starlette,
    site: Browser,
    factory: sessionmaker[Session],
    planted: dict[str, int],
    moderator: CurrentUser,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL: a refresh that read the dismissals before a dismissal commits must not
    write the dismissed pair back, so a dismissal takes the embedder's lock."""
    if not is_postgres:
        pytest.skip("the embedder lock is a PostgreSQL advisory lock; SQLite has one writer")
    monkeypatch.setattr(dismissals, "LOCK_WAIT", 0.5)
    g = planted["trees_group"]
    with embedder_lock(factory, sim_app.state.settings, wait=30.0) as got:
        assert got
        with pytest.raises(Conflict), transaction(factory) as s:
            dismissals.dismiss(s, moderator, g, reason=REASON)
    assert dismissed_rows(factory) == {}
    with transaction(factory) as s:
        assert dismissals.dismiss(s, moderator, g, reason=REASON).whole
    assert len(dismissed_rows(factory)) == 1


# --- bounded cost (issue #12, finding 10) ---------------------------------------------------------

LONG_REF = ("а б " * 2500)[:10_000]
LONG_COPIES = [
    ("б а " * 2500)[:10_000],
    ("а б " * 2400 + "в г " * 100)[:10_000],
    ("б а " * 1250 + "а б " * 1250)[:10_000],
]


def test_the_diff_of_four_long_bodies_is_bounded() -> None:
    """Four 10,000-character bodies (one suggested, three compared with it) took 8.6 s with an
    unbounded difflib (quadratic to cubic on repetitive words); now well under a second."""
    import time

    # CPU time of this thread, not wall time: the bound is on the work, which neither other test
    # processes (pytest-xdist) nor other threads of this one (a test app's poller) change
    started = time.thread_time()
    diffs = [diff_tokens(LONG_REF, body) for body in LONG_COPIES]
    assert time.thread_time() - started < 1.0
    for body, tokens in zip(LONG_COPIES, diffs, strict=True):
        assert "".join(t.text for t in tokens) == body  # nothing lost or reordered
    # the same words shifted by one: only the ends differ
    assert sum(len(t.text.split()) for t in diffs[0] if t.changed) <= 2
    # the tail replaced by other words: exactly those are marked
    assert [t.text for t in diffs[1] if t.changed] == [("в г " * 100).strip()]


def test_the_diff_of_long_ordinary_texts_marks_exactly_the_changed_words() -> None:
    words = [f"слово{i}" for i in range(1500)]  # ~12,000 characters, every word different
    edited = list(words)
    edited[10] = "вставка"
    edited[700:703] = ["новые", "слова", "здесь"]
    del edited[1200]
    tokens = diff_tokens(" ".join(words), " ".join(edited))
    assert [t.text for t in tokens if t.changed] == ["вставка", "новые слова здесь"]
    # texts too different for the budget: the words the reference lacks are marked
    other = " ".join(f"другое{i} слово{i}" for i in range(1500))
    marked = " ".join(t.text for t in diff_tokens(" ".join(words), other) if t.changed)
    assert "другое0" in marked and "другое1499" in marked and "слово5 " not in f"{marked} "


def test_the_queue_page_with_four_long_bodies_answers_quickly(
    sim_app: Any, site: Browser, factory: Any, author: Any, moderator: Any
) -> None:
    import time

    ids = [add_idea(factory, author, BIKE[0], LONG_REF)]
    ids += [
        add_idea(factory, author, BIKE[0] + f" {n}", body) for n, body in enumerate(LONG_COPIES)
    ]
    settled(sim_app)
    site.login(moderator.email)
    started = time.process_time()  # the work of the request (all threads), not the wall time
    page = site.get("/moderation/duplicates")
    elapsed = time.process_time() - started
    assert page.status_code == 200
    grouped = [i for i in ids if f"/ideas/{i}" in page.text]
    assert len(grouped) >= 2, "the long copies were not grouped"
    assert "<mark>" in page.text
    assert elapsed < 1.5
