"""Merging duplicate ideas and undoing it: services, votes on merged clusters, pages, roles."""

from __future__ import annotations

from typing import Any, TypedDict, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.merge_helpers import add_comment, add_idea, expected_counts, quick_user, stored_counts
from webapp.dedup import merges
from webapp.ideas import votes as votes_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Comment,
    DuplicateGroup,
    DuplicateGroupMember,
    Idea,
    IdeaMerge,
    Notification,
    RankingEvent,
    Vote,
)

REASON = "The same bench repair, proposed twice"
E = TypeVar("E", bound=Exception)


@pytest.fixture
def mod(session_factory: sessionmaker[Session]) -> CurrentUser:
    return quick_user(session_factory, "Marina", role="moderator")


def run(session_factory: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with transaction(session_factory) as s:
        return fn(s, *args, **kwargs)


def support(session_factory: Any, user: Any, idea_id: int, value: int = 1) -> Any:
    return run(session_factory, votes_service.cast_vote, user, idea_id, value, allow_oppose=True)


def idea_state(session_factory: Any, idea_id: int) -> tuple[str, int | None]:
    with transaction(session_factory) as s:
        idea = s.get(Idea, idea_id)
        assert idea is not None
        return idea.status, idea.merged_into_id


def check_counts(session_factory: Any, ids: list[int]) -> None:
    with transaction(session_factory) as s:
        assert stored_counts(s, ids) == expected_counts(s, ids)


def comment_places(session_factory: Any) -> dict[int, tuple[int, int | None, int | None]]:
    with transaction(session_factory) as s:
        rows = s.execute(
            select(
                Comment.id, Comment.idea_id, Comment.moved_from_idea_id, Comment.moved_by_merge_id
            )
        ).all()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def vote_rows(session_factory: Any) -> set[tuple[int, int, int]]:
    with transaction(session_factory) as s:
        rows = s.execute(select(Vote.user_id, Vote.idea_id, Vote.value))
        return {(user_id, idea_id, value) for user_id, idea_id, value in rows}


class Trio(TypedDict):
    a: int
    b: int
    c: int
    authors: list[CurrentUser]
    users: list[CurrentUser]


@pytest.fixture
def trio(session_factory: sessionmaker[Session]) -> Trio:
    """Ideas A, B, C by three authors; supporters: u1 A+B, u2 B, u3 C, u4 B+C."""
    authors = [quick_user(session_factory, n) for n in ("Anna", "Boris", "Vera")]
    a = add_idea(session_factory, "Починить скамейки в сквере", authors[0])
    b = add_idea(session_factory, "Отремонтировать лавочки в сквере", authors[1])
    c = add_idea(session_factory, "Новые скамейки для сквера", authors[2])
    users = [quick_user(session_factory, n) for n in ("Gleb", "Daria", "Egor", "Zoya")]
    for user, ideas in zip(users, [(a, b), (b,), (c,), (b, c)], strict=True):
        for idea in ideas:
            support(session_factory, user, idea)
    return {"a": a, "b": b, "c": c, "authors": authors, "users": users}


# --- merge and unmerge -----------------------------------------------------------------------


def test_merge_counts_each_supporter_once_and_keeps_every_vote_row(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    rows_before = vote_rows(session_factory)
    view = run(session_factory, merges.merge, mod, a, [c, b], reason=REASON)

    assert view.canonical_id == a and view.active
    assert [m.idea_id for m in view.members] == sorted([b, c])
    assert idea_state(session_factory, b) == ("merged", a)
    assert idea_state(session_factory, c) == ("merged", a)
    assert vote_rows(session_factory) == rows_before
    with transaction(session_factory) as s:
        counts = stored_counts(s, [a, b, c])
    assert counts[a][0] == 4  # u1 (A and B) counts once, u4 (B and C) once
    assert counts[b][0] == 3 and counts[c][0] == 2  # merged ideas keep their own raw counts
    check_counts(session_factory, [a, b, c])


def test_unmerge_restores_statuses_links_and_counts(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    with transaction(session_factory) as s:
        s.get_one(Idea, b).status = "under_review"
    with transaction(session_factory) as s:
        before = stored_counts(s, [a, b, c])
    view = run(session_factory, merges.merge, mod, a, [b, c], reason=REASON)
    undone = run(session_factory, merges.unmerge, mod, view.id, reason="Different squares")

    assert not undone.active and undone.undone_by_id == mod.id
    assert undone.undo_reason == "Different squares"
    assert idea_state(session_factory, b) == ("under_review", None)
    assert idea_state(session_factory, c) == ("published", None)
    with transaction(session_factory) as s:
        assert stored_counts(s, [a, b, c]) == before


def test_comments_move_to_the_canonical_idea_and_back(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    writer = trio["users"][0]
    on_a = add_comment(session_factory, a, writer, "Согласна, давно пора")
    on_b = add_comment(session_factory, b, writer, "Лавочки совсем сломаны")
    hidden_b = add_comment(session_factory, b, writer, "Спам", hidden=True)
    on_c = add_comment(session_factory, c, writer, "И урны тоже")
    before = comment_places(session_factory)

    view = run(session_factory, merges.merge, mod, a, [b, c], reason=REASON)
    places = comment_places(session_factory)
    assert places[on_a] == (a, None, None)
    assert places[on_b] == (a, b, view.id)
    assert places[hidden_b] == (a, b, view.id)
    assert places[on_c] == (a, c, view.id)
    assert view.moved_comments == 3
    check_counts(session_factory, [a, b, c])
    with transaction(session_factory) as s:
        assert stored_counts(s, [a])[a][2] == 3  # A's own and two visible moved ones

    run(session_factory, merges.unmerge, mod, view.id, reason="Different squares")
    assert comment_places(session_factory) == before
    check_counts(session_factory, [a, b, c])


def test_merging_an_idea_with_merged_ideas_repoints_them_and_unmerge_restores_the_chain(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    writer = trio["users"][1]
    on_b = add_comment(session_factory, b, writer, "Лавочки совсем сломаны")
    on_c = add_comment(session_factory, c, writer, "И урны тоже")
    first = run(session_factory, merges.merge, mod, b, [c], reason=REASON)
    after_first = comment_places(session_factory)
    assert after_first[on_c] == (b, c, first.id)

    second = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    assert idea_state(session_factory, b) == ("merged", a)
    assert idea_state(session_factory, c) == ("merged", a)  # no chains
    repointed = [m for m in second.members if m.repointed]
    assert [(m.idea_id, m.previous_merged_into_id) for m in repointed] == [(c, b)]
    places = comment_places(session_factory)
    assert places[on_b] == (a, b, second.id) and places[on_c] == (a, c, second.id)
    with transaction(session_factory) as s:
        assert stored_counts(s, [a])[a][0] == 4
    check_counts(session_factory, [a, b, c])

    run(session_factory, merges.unmerge, mod, second.id, reason="Too broad")
    assert idea_state(session_factory, b) == ("published", None)
    assert idea_state(session_factory, c) == ("merged", b)
    assert comment_places(session_factory) == after_first
    check_counts(session_factory, [a, b, c])


def test_an_earlier_merge_cannot_be_undone_before_the_later_one_that_folded_it(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    first = run(session_factory, merges.merge, mod, b, [c], reason=REASON)
    second = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    with pytest.raises(Conflict) as err:
        run(session_factory, merges.unmerge, mod, first.id, reason="Undo the first")
    assert err.value.params == {"later": second.id}
    assert idea_state(session_factory, c) == ("merged", a)


def test_a_later_merge_of_other_ideas_into_the_same_canonical_does_not_block(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    first = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    run(session_factory, merges.merge, mod, a, [c], reason=REASON)
    run(session_factory, merges.unmerge, mod, first.id, reason="Different squares")
    assert idea_state(session_factory, b) == ("published", None)
    assert idea_state(session_factory, c) == ("merged", a)
    check_counts(session_factory, [a, b, c])


def test_refused_merges_and_unmerges(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    citizen = trio["users"][0]
    official = quick_user(session_factory, "Oleg", role="official")
    hidden = add_idea(session_factory, "Скрытая идея про сквер", status="hidden")

    def refused(exc: type[E], *args: Any, **kwargs: Any) -> E:
        with pytest.raises(exc) as err:
            run(session_factory, merges.merge, *args, **kwargs)
        return err.value

    for who in (citizen, official):
        refused(PermissionDenied, who, a, [b], reason=REASON)
    assert "itself" in refused(Conflict, mod, a, [a, b], reason=REASON).message
    assert "at least one" in refused(Conflict, mod, a, [], reason=REASON).message
    assert "hidden" in refused(Conflict, mod, a, [hidden], reason=REASON).message
    assert "hidden" in refused(Conflict, mod, hidden, [a], reason=REASON).message
    refused(NotFound, mod, a, [999_999], reason=REASON)
    refused(NotFound, mod, 999_999, [a], reason=REASON)
    refused(NotFound, mod, a, [b], reason=REASON, group_id=999_999)
    missing = refused(InvalidInput, mod, a, [b], reason="  ")
    assert "reason" in missing.errors
    refused(InvalidInput, mod, a, [b], reason="x" * (merges.REASON_MAX + 1))

    view = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    already = refused(Conflict, mod, c, [b], reason=REASON)
    assert already.params["title"].startswith("Отремонтировать")
    into_merged = refused(Conflict, mod, b, [c], reason=REASON)
    assert into_merged.params["target"].startswith("Починить")

    with pytest.raises(PermissionDenied):
        run(session_factory, merges.unmerge, citizen, view.id, reason="Not the same")
    with pytest.raises(InvalidInput):
        run(session_factory, merges.unmerge, mod, view.id, reason="")
    with pytest.raises(NotFound):
        run(session_factory, merges.unmerge, mod, 999_999, reason="Not the same")
    run(session_factory, merges.unmerge, mod, view.id, reason="Not the same")
    with pytest.raises(Conflict):
        run(session_factory, merges.unmerge, mod, view.id, reason="Not the same")
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count(IdeaMerge.id))) == 1


def test_unmerge_refuses_a_member_that_changed_since(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    view = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    with transaction(session_factory) as s:
        s.get_one(Idea, b).status = "hidden"
    with pytest.raises(Conflict) as err:
        run(session_factory, merges.unmerge, mod, view.id, reason="Not the same")
    assert "changed" in err.value.message


# --- votes on merged clusters ----------------------------------------------------------------


def test_a_vote_on_a_merged_idea_is_refused_naming_the_canonical_one(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    newcomer = quick_user(session_factory, "Kira")
    with pytest.raises(Conflict) as err:
        support(session_factory, newcomer, b)
    assert err.value.params == {"title": "Починить скамейки в сквере"}
    with pytest.raises(Conflict):
        run(session_factory, votes_service.withdraw_vote, trio["users"][1], b)
    assert (newcomer.id, b, 1) not in vote_rows(session_factory)


def test_support_on_the_canonical_idea_counts_a_member_supporter_once(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    only_b = trio["users"][1]
    run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    with transaction(session_factory) as s:
        before = stored_counts(s, [a])[a][0]
    state = support(session_factory, only_b, a)
    assert state.changed and state.my_vote == 1 and state.support_count == before
    assert (only_b.id, a, 1) in vote_rows(session_factory)  # the row is stored all the same
    newcomer = quick_user(session_factory, "Lev")
    state = support(session_factory, newcomer, a)
    assert state.support_count == before + 1
    check_counts(session_factory, [a, b])


def test_opposing_on_the_canonical_idea_follows_support_wins(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    only_b = trio["users"][1]
    run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    state = support(session_factory, only_b, a, value=-1)
    assert state.my_vote == 1  # still a supporter through B
    with transaction(session_factory) as s:
        assert stored_counts(s, [a])[a][1] == 0
    critic = quick_user(session_factory, "Ilya")
    assert support(session_factory, critic, a, value=-1).oppose_count == 1
    assert support(session_factory, critic, a, value=1).oppose_count == 0
    check_counts(session_factory, [a, b])


def test_withdrawing_on_the_canonical_idea_removes_the_votes_on_merged_ideas(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    both = trio["users"][3]  # supported B and C
    run(session_factory, merges.merge, mod, a, [b, c], reason=REASON)
    with transaction(session_factory) as s:
        before = stored_counts(s, [a, b, c])
        last_event = s.scalar(select(func.max(RankingEvent.id)))
    state = run(session_factory, votes_service.withdraw_vote, both, a)

    assert state.changed and state.my_vote == 0
    assert state.support_count == before[a][0] - 1
    assert not {r for r in vote_rows(session_factory) if r[0] == both.id}
    with transaction(session_factory) as s:
        after = stored_counts(s, [a, b, c])
        events = s.execute(
            select(RankingEvent.idea_id, RankingEvent.user_id, RankingEvent.delta)
            .where(RankingEvent.id > last_event)
            .order_by(RankingEvent.id)
        ).all()
    assert after[b][0] == before[b][0] - 1 and after[c][0] == before[c][0] - 1
    assert sorted(events) == sorted([(b, both.id, -1), (c, both.id, -1)])
    check_counts(session_factory, [a, b, c])
    again = run(session_factory, votes_service.withdraw_vote, both, a)
    assert not again.changed


def test_votes_cast_on_the_canonical_idea_after_a_merge_stay_after_unmerge(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    view = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    late = quick_user(session_factory, "Zoya")
    support(session_factory, late, a)
    run(session_factory, merges.unmerge, mod, view.id, reason="Different squares")
    assert (late.id, a, 1) in vote_rows(session_factory)
    check_counts(session_factory, [a, b])


# --- audit, notifications, groups ------------------------------------------------------------


def test_merge_and_unmerge_write_audit_entries_with_before_and_after(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b = trio["a"], trio["b"]
    note = add_comment(session_factory, b, trio["users"][0], "Лавочки совсем сломаны")
    view = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    run(session_factory, merges.unmerge, mod, view.id, reason="Different squares")
    with transaction(session_factory) as s:
        entries = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        merged, unmerged = [
            (e.action, e.actor_id, e.target_id, e.reason, e.details) for e in entries
        ]
    assert merged[:4] == ("idea.merge", mod.id, a, REASON)
    details = merged[4]
    assert details["merge_id"] == view.id and details["members"] == [b]
    assert details["before"]["ideas"][str(b)]["status"] == "published"
    assert details["after"]["ideas"][str(b)] == {
        "status": "merged",
        "merged_into": a,
        "support_count": 3,
        "oppose_count": 0,
        "comment_count": 0,
    }
    assert details["before"]["ideas"][str(a)]["support_count"] == 1
    assert details["after"]["ideas"][str(a)]["support_count"] == 3
    assert details["after"]["moved_comment_ids"] == [note]
    assert unmerged[:4] == ("idea.unmerge", mod.id, a, "Different squares")
    assert unmerged[4]["after"]["ideas"][str(b)]["status"] == "published"
    assert unmerged[4]["after"]["returned_comment_ids"] == [note]


def test_merge_notifies_each_supporter_and_author_of_the_merged_ideas_once(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    authors, users = trio["authors"], trio["users"]
    support(session_factory, mod, b)  # the acting moderator is not notified
    run(session_factory, merges.merge, mod, a, [b, c], reason=REASON, email=True)
    with transaction(session_factory) as s:
        rows = s.execute(
            select(Notification.user_id, Notification.kind, Notification.idea_id, Notification.data)
        ).all()
    notified = sorted(r[0] for r in rows)
    expected = sorted([authors[1].id, authors[2].id, *(u.id for u in users)])
    assert notified == expected  # u1..u4 each once; A's author not (A was not merged)
    assert {r[1] for r in rows} == {"merged"} and {r[2] for r in rows} == {a}
    data = rows[0][3]
    assert data["canonical_id"] == a and data["canonical_title"] == "Починить скамейки в сквере"
    assert sorted(data["merged_ids"]) == sorted([b, c])


def _group(session_factory: Any, ids: list[int]) -> int:
    with transaction(session_factory) as s:
        group = DuplicateGroup(score=0.9, model="test")
        s.add(group)
        s.flush()
        for n, idea_id in enumerate(ids):
            s.add(DuplicateGroupMember(group_id=group.id, idea_id=idea_id, score=0.9, position=n))
        return group.id


def _group_status(session_factory: Any, group_id: int) -> str:
    with transaction(session_factory) as s:
        return s.get_one(DuplicateGroup, group_id).status


def test_group_is_merged_only_when_every_public_member_is_merged(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    group = _group(session_factory, [a, b, c])
    first = run(session_factory, merges.merge, mod, a, [b], reason=REASON, group_id=group)
    assert _group_status(session_factory, group) == "open"  # C is left
    run(session_factory, merges.merge, mod, a, [c], reason=REASON, group_id=group)
    assert _group_status(session_factory, group) == "merged"
    with transaction(session_factory) as s:
        assert s.get_one(IdeaMerge, first.id).group_id == group
    last = run(session_factory, merges.list_merges, limit=1, offset=0)[0][0]
    run(session_factory, merges.unmerge, mod, last.id, reason="C is different")
    assert _group_status(session_factory, group) == "open"


def test_list_merges_is_newest_first_with_a_total_and_a_canonical_filter(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    first = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    second = run(session_factory, merges.merge, mod, a, [c], reason="Also the same benches")
    items, total = run(session_factory, merges.list_merges, limit=1, offset=0)
    assert total == 2 and [m.id for m in items] == [second.id]
    items, _ = run(session_factory, merges.list_merges, limit=1, offset=1)
    assert [m.id for m in items] == [first.id]
    assert items[0].actor_name == "Marina" and items[0].canonical_title.startswith("Починить")
    _, none = run(session_factory, merges.list_merges, limit=10, offset=0, canonical_id=b)
    assert none == 0


def test_merged_into_info_lists_merged_ideas_and_credits_their_authors(
    session_factory: sessionmaker[Session], mod: CurrentUser, trio: Trio
) -> None:
    a, b, c = trio["a"], trio["b"], trio["c"]
    authors = trio["authors"]
    run(session_factory, merges.merge, mod, a, [b, c], reason=REASON)
    info = run(session_factory, merges.merged_into_info, a, trio["users"][3].id)
    assert [m.idea_id for m in info.merged] == [b, c]
    assert info.credited == ("Boris", "Vera")
    assert set(info.via) == {"Отремонтировать лавочки в сквере", "Новые скамейки для сквера"}
    assert authors[0].display_name not in info.credited
    assert run(session_factory, merges.merged_into_info, a, None).via == ()


# --- pages -----------------------------------------------------------------------------------


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> dict[str, CurrentUser]:
    return {
        "moderator": make_user(session_factory, "marina@example.org", "moderator", name="Marina"),
        "citizen": make_user(session_factory, "petr@example.org", "citizen", name="Petr"),
        "official": make_user(session_factory, "olga@example.org", "official", name="Olga"),
    }


def test_a_merged_idea_redirects_with_303_and_the_canonical_page_says_so(
    app: Starlette,
    session_factory: sessionmaker[Session],
    mod: CurrentUser,
    trio: Trio,
    people: dict[str, CurrentUser],
) -> None:
    a, b = trio["a"], trio["b"]
    add_comment(session_factory, b, trio["users"][0], "Лавочки совсем сломаны")
    run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    with Browser(app) as browser:
        response = browser.get(f"/ideas/{b}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/ideas/{a}"
        page = browser.get(response.headers["location"]).text
    assert "«Отремонтировать лавочки в сквере» объединена с этой идеей" in page
    assert "Boris" in page  # credited
    assert "Перенесено из объединённой идеи «Отремонтировать лавочки в сквере»" in page


def test_a_supporter_counted_through_a_merged_idea_sees_it_and_can_withdraw(
    app: Starlette,
    session_factory: sessionmaker[Session],
    mod: CurrentUser,
    trio: Trio,
    people: dict[str, CurrentUser],
) -> None:
    a, b = trio["a"], trio["b"]
    citizen = people["citizen"]
    support(session_factory, citizen, b)
    run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    with Browser(app) as browser:
        browser.login("petr@example.org")
        page = browser.get(f"/ideas/{a}").text
        assert "Вы поддерживаете эту идею." in page
        assert "data-support-via" in page
        assert f'action="/ideas/{a}/withdraw"' in page
        response = browser.submit(f"/ideas/{a}/withdraw")
        assert response.status_code == 303
        page = browser.get(f"/ideas/{a}").text
        assert "Вы поддерживаете эту идею." not in page
    assert not {r for r in vote_rows(session_factory) if r[0] == citizen.id}
    check_counts(session_factory, [a, b])


PRIVILEGED = [
    ("get", "/moderation/merges"),
    ("post", "/moderation/merges/{merge}/unmerge"),
    ("post", "/moderation/ideas/{b}/merge"),
]


@pytest.mark.parametrize("role", ["citizen", "official"])
def test_merge_pages_refuse_citizens_and_officials(
    app: Starlette,
    session_factory: sessionmaker[Session],
    mod: CurrentUser,
    trio: Trio,
    people: dict[str, CurrentUser],
    role: str,
) -> None:
    a, b = trio["a"], trio["b"]
    view = run(session_factory, merges.merge, mod, a, [b], reason=REASON)
    c = trio["c"]
    with Browser(app) as browser:
        browser.login(f"{people[role].email}")
        for method, path in PRIVILEGED:
            url = path.format(merge=view.id, b=c)
            if method == "get":
                response = browser.get(url)
            else:
                response = browser.submit(url, {"reason": "Not the same", "target_id": str(a)})
            assert response.status_code == 403, (role, url)
    assert idea_state(session_factory, b) == ("merged", a)
    assert idea_state(session_factory, c) == ("published", None)


def test_moderator_sees_the_history_and_unmerges_with_a_reason(
    app: Starlette,
    session_factory: sessionmaker[Session],
    trio: Trio,
    people: dict[str, CurrentUser],
) -> None:
    a, b = trio["a"], trio["b"]
    moderator = people["moderator"]
    view = run(session_factory, merges.merge, moderator, a, [b], reason=REASON)
    with Browser(app) as browser:
        browser.login("marina@example.org")
        page = browser.get("/moderation/merges").text
        assert REASON in page and "Отремонтировать лавочки в сквере" in page
        assert f'action="/moderation/merges/{view.id}/unmerge"' in page

        refused = browser.submit(f"/moderation/merges/{view.id}/unmerge", {"reason": ""})
        assert refused.status_code == 422
        assert "Обязательное поле." in refused.text
        assert idea_state(session_factory, b) == ("merged", a)

        no_csrf = browser.post(f"/moderation/merges/{view.id}/unmerge", data={"reason": "x y z"})
        assert no_csrf.status_code == 403

        done = browser.submit(f"/moderation/merges/{view.id}/unmerge", {"reason": "Not the same"})
        assert done.status_code == 303
        assert idea_state(session_factory, b) == ("published", None)
        page = browser.get(done.headers["location"]).text
        assert "Отменил(а): Marina" in page
        assert f'action="/moderation/merges/{view.id}/unmerge"' not in page

        again = browser.submit(f"/moderation/merges/{view.id}/unmerge", {"reason": "Not the same"})
        assert again.status_code == 409


def test_moderator_merges_an_idea_by_hand_from_its_page(
    app: Starlette,
    session_factory: sessionmaker[Session],
    trio: Trio,
    people: dict[str, CurrentUser],
) -> None:
    a, b = trio["a"], trio["b"]
    with Browser(app) as browser:
        browser.login("marina@example.org")
        page = browser.get(f"/ideas/{b}").text
        assert f'action="/moderation/ideas/{b}/merge"' in page
        bad = browser.submit(
            f"/moderation/ideas/{b}/merge", {"target_id": str(b), "reason": REASON}
        )
        assert bad.status_code == 303 and bad.headers["location"] == f"/ideas/{b}"
        assert idea_state(session_factory, b) == ("published", None)
        done = browser.submit(
            f"/moderation/ideas/{b}/merge", {"target_id": str(a), "reason": REASON}
        )
        assert done.status_code == 303 and done.headers["location"] == f"/ideas/{a}"
    assert idea_state(session_factory, b) == ("merged", a)
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "idea.merge")) == 1
