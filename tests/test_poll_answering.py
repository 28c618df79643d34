"""Residents answer polls: one answer each, replaced when allowed, refusals store nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from tests.helpers import PASSWORD, Browser, make_user
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollAnswer,
    PollDistrict,
    PollOption,
    PollQuestion,
    PollResponse,
    User,
    utcnow,
)

API = "/api/v1"


def make_poll(session_factory: Any, **kw: Any) -> dict[str, int]:
    now = utcnow()
    with transaction(session_factory) as s:
        poll = Poll(
            slug=kw.pop("slug", "p"),
            title_ru="Опрос о парке",
            opens_at=kw.pop("opens_at", now - timedelta(days=1)),
            closes_at=kw.pop("closes_at", now + timedelta(days=1)),
            published=kw.pop("published", True),
            allow_change=kw.pop("allow_change", True),
            points=kw.pop("points", 5),
            **kw,
        )
        s.add(poll)
        s.flush()
        single = PollQuestion(
            poll_id=poll.id, position=1, kind="single", text_ru="Что?", allow_other=True
        )
        multi = PollQuestion(
            poll_id=poll.id, position=2, kind="multiple", text_ru="Что ещё?", max_choices=2
        )
        scale = PollQuestion(
            poll_id=poll.id, position=3, kind="scale", text_ru="Оценка", scale_min=1, scale_max=5
        )
        rank = PollQuestion(poll_id=poll.id, position=4, kind="ranking", text_ru="Порядок")
        s.add_all([single, multi, scale, rank])
        s.flush()
        ids: dict[str, int] = {
            "poll": poll.id,
            "single": single.id,
            "multi": multi.id,
            "scale": scale.id,
            "rank": rank.id,
        }
        for q, prefix in ((single, "s"), (multi, "m"), (rank, "r")):
            for n in range(3):
                o = PollOption(question_id=q.id, position=n, text_ru=f"Вариант {n}")
                s.add(o)
                s.flush()
                ids[f"{prefix}{n}"] = o.id
        return ids


def form(ids: dict[str, int], **extra: str) -> dict[str, str]:
    data = {
        f"q{ids['single']}": str(ids["s0"]),
        f"q{ids['multi']}_o{ids['m0']}": "on",
        f"q{ids['multi']}_o{ids['m1']}": "on",
        f"q{ids['scale']}": "4",
        f"q{ids['rank']}_r{ids['r0']}": "2",
        f"q{ids['rank']}_r{ids['r1']}": "1",
        f"q{ids['rank']}_r{ids['r2']}": "3",
    }
    data.update(extra)
    return data


def counts(session_factory: Any) -> tuple[int, int]:
    with transaction(session_factory) as s:
        return (
            s.scalar(select(func.count()).select_from(PollResponse)) or 0,
            s.scalar(select(func.count()).select_from(PollAnswer)) or 0,
        )


def resident(
    app: Any, session_factory: Any, email: str = "resident@example.org", **kw: Any
) -> Browser:
    make_user(session_factory, email, **kw)
    b = Browser(app)
    b.login(email)
    return b


def test_answer_once_and_replace(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory)
    b = resident(app, session_factory)
    r = b.submit(f"/polls/{ids['poll']}/answer", form(ids))
    assert r.status_code == 303, r.text[:2000]
    assert counts(session_factory) == (1, 1 + 2 + 1 + 3)
    with transaction(session_factory) as s:
        assert s.get(Poll, ids["poll"]).frozen_at is not None  # type: ignore[union-attr]
        ranks = dict(
            s.execute(
                select(PollAnswer.option_id, PollAnswer.value).where(
                    PollAnswer.question_id == ids["rank"]
                )
            ).all()
        )
    assert ranks == {ids["r1"]: 1, ids["r0"]: 2, ids["r2"]: 3}
    page = b.get(f"/polls/{ids['poll']}")
    assert "data-mine" in page.text and "Вариант 1" in page.text
    # replace: "other" instead of an option
    r = b.submit(
        f"/polls/{ids['poll']}/answer",
        form(ids, **{f"q{ids['single']}": "other", f"q{ids['single']}_other": "Фонтан"}),
    )
    assert r.status_code == 303
    assert counts(session_factory) == (1, 1 + 2 + 1 + 3)
    with transaction(session_factory) as s:
        assert (
            s.scalar(select(PollAnswer.other_text).where(PollAnswer.other_text.is_not(None)))
            == "Фонтан"
        )
    mine = b.get("/polls/mine")
    assert 'data-points="5"' in mine.text


def test_second_answer_refused_when_no_change(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory, allow_change=False)
    b = resident(app, session_factory)
    assert b.submit(f"/polls/{ids['poll']}/answer", form(ids)).status_code == 303
    r = b.submit(f"/polls/{ids['poll']}/answer", form(ids, **{f"q{ids['scale']}": "1"}))
    assert r.status_code == 409
    assert "Вы уже ответили" in r.text
    with transaction(session_factory) as s:
        assert s.scalar(select(PollAnswer.value).where(PollAnswer.question_id == ids["scale"])) == 4


def test_database_refuses_second_response(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory)
    user = make_user(session_factory, "direct@example.org")
    with transaction(session_factory) as s:
        s.add(PollResponse(poll_id=ids["poll"], user_id=user.id))
    with pytest.raises(IntegrityError), transaction(session_factory) as s:
        s.add(PollResponse(poll_id=ids["poll"], user_id=user.id))
        s.flush()


@pytest.mark.parametrize(
    "change",
    [
        {"scale": "9"},  # off the scale
        {"rank_dup": "1"},  # a ranking that is not a permutation
        {"too_many": "on"},  # three of "up to 2"
        {"other_long": "x" * 501},
        {"missing": ""},
    ],
)
def test_invalid_answers_store_nothing(
    app: Any, session_factory: Any, change: dict[str, str]
) -> None:
    ids = make_poll(session_factory)
    b = resident(app, session_factory)
    data = form(ids)
    if "scale" in change:
        data[f"q{ids['scale']}"] = change["scale"]
    if "rank_dup" in change:
        data[f"q{ids['rank']}_r{ids['r2']}"] = "1"
    if "too_many" in change:
        data[f"q{ids['multi']}_o{ids['m2']}"] = "on"
    if "other_long" in change:
        data[f"q{ids['single']}"] = "other"
        data[f"q{ids['single']}_other"] = change["other_long"]
    if "missing" in change:
        del data[f"q{ids['single']}"]
    r = b.submit(f"/polls/{ids['poll']}/answer", data)
    assert r.status_code == 422, r.text[:500]
    assert counts(session_factory) == (0, 0)
    with transaction(session_factory) as s:
        assert s.get(Poll, ids["poll"]).frozen_at is None  # type: ignore[union-attr]


def test_audience_verified_closed_refused(app: Any, session_factory: Any) -> None:
    with transaction(session_factory) as s:
        okrug = s.scalar(select(District).where(District.parent_id.is_(None)))
        assert okrug is not None
        inside = s.scalar(select(District.id).where(District.parent_id == okrug.id))
        outside = s.scalar(
            select(District.id).where(
                District.parent_id.is_not(None), District.parent_id != okrug.id
            )
        )
        okrug_id = okrug.id
    ids = make_poll(session_factory, slug="a")
    with transaction(session_factory) as s:
        s.add(PollDistrict(poll_id=ids["poll"], district_id=okrug_id))
    far = resident(app, session_factory, "far@example.org")
    make_user(session_factory, "near@example.org")
    with transaction(session_factory) as s:
        for email, district in (("far@example.org", outside), ("near@example.org", inside)):
            s.execute(update(User).where(User.email == email).values(district_id=district))
    assert far.submit(f"/polls/{ids['poll']}/answer", form(ids)).status_code == 403
    assert counts(session_factory) == (0, 0)
    near = Browser(app)
    near.login("near@example.org")
    assert b"data-poll" in near.get("/polls").content
    assert near.submit(f"/polls/{ids['poll']}/answer", form(ids)).status_code == 303

    ver = make_poll(session_factory, slug="v", verified_only=True)
    assert far.submit(f"/polls/{ver['poll']}/answer", form(ver)).status_code == 403
    closed = make_poll(
        session_factory,
        slug="c",
        opens_at=utcnow() - timedelta(days=3),
        closes_at=utcnow() - timedelta(days=1),
    )
    assert far.submit(f"/polls/{closed['poll']}/answer", form(closed)).status_code == 409
    draft = make_poll(session_factory, slug="d", published=False)
    assert far.submit(f"/polls/{draft['poll']}/answer", form(draft)).status_code == 404
    assert counts(session_factory)[0] == 1  # only "near"'s answer


def test_anonymous_cannot_answer(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory)
    b = Browser(app)
    r = b.submit(f"/polls/{ids['poll']}/answer", form(ids))
    assert r.status_code in (302, 303, 401)
    assert counts(session_factory) == (0, 0)


def _token(app: Any, email: str) -> dict[str, str]:
    client = Browser(app)
    response = client.post(f"{API}/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"authorization": f"Bearer {response.json()['token']}"}


def test_api_answer_with_token(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory, allow_change=False)
    make_user(session_factory, "mobile@example.org")
    headers = _token(app, "mobile@example.org")
    client = Browser(app)
    listing = client.get(f"{API}/polls", headers=headers).json()
    assert [p["id"] for p in listing["items"]] == [ids["poll"]]
    detail = client.get(f"{API}/polls/{ids['poll']}", headers=headers).json()
    assert detail["can_answer"] and len(detail["questions"]) == 4
    assert client.get(f"{API}/polls/{ids['poll']}/answer", headers=headers).status_code == 404
    answers = {
        str(ids["single"]): {"options": [ids["s1"]]},
        str(ids["multi"]): {"options": [ids["m0"]]},
        str(ids["scale"]): {"value": 5},
        str(ids["rank"]): {"order": [ids["r2"], ids["r0"], ids["r1"]]},
    }
    bad = {**answers, str(ids["scale"]): {"value": 6}}
    url = f"{API}/polls/{ids['poll']}/answer"
    r = client.put(url, headers=headers, json={"answers": json.dumps(bad)})
    assert r.status_code == 422
    assert counts(session_factory) == (0, 0)
    r = client.put(url, headers=headers, json={"answers": json.dumps(answers)})
    assert r.status_code == 200, r.text
    assert r.json()["answers"][str(ids["rank"])]["order"] == [ids["r2"], ids["r0"], ids["r1"]]
    mine = client.get(url, headers=headers).json()
    assert mine["answers"][str(ids["scale"])]["value"] == 5
    assert (
        client.put(url, headers=headers, json={"answers": json.dumps(answers)}).status_code == 409
    )
    assert client.put(url, json={"answers": json.dumps(answers)}).status_code == 401
    assert counts(session_factory)[0] == 1
