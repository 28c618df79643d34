"""Officials create and edit polls; the first answer freezes everything but the close date."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.helpers import Browser, make_user
from tests.test_poll_answering import form, make_poll
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    District,
    Poll,
    PollDistrict,
    PollOption,
    PollQuestion,
    PollResponse,
)


def official(app: Any, session_factory: Any) -> Browser:
    make_user(session_factory, "official@example.org", role="official")
    b = Browser(app)
    b.login("official@example.org")
    return b


POLL = {
    "title_ru": "Какой парк благоустроить",
    "opens_at": "2030-05-01T09:00",
    "closes_at": "2030-05-20T21:00",
    "allow_change": "on",
    "points": "10",
}


def test_create_poll_with_audience_and_questions(app: Any, session_factory: Any) -> None:
    b = official(app, session_factory)
    with transaction(session_factory) as s:
        district = s.scalar(select(District.id).where(District.parent_id.is_not(None)))
    r = b.submit("/officials/polls/new", {**POLL, f"district_{district}": "on"})
    assert r.status_code == 303, r.text[:1000]
    with transaction(session_factory) as s:
        poll = s.scalars(select(Poll)).one()
        assert poll.opens_at.hour == 6  # 09:00 Moscow time is 06:00 UTC
        assert s.scalars(select(PollDistrict.district_id)).all() == [district]
        poll_id = poll.id
    r = b.submit(
        f"/officials/polls/{poll_id}/questions",
        {
            "kind": "single",
            "text_ru": "Какой парк?",
            "options_ru": "Северный\nЮжный\n",
            "required": "on",
        },
    )
    assert r.status_code == 303, r.text[:1000]
    r = b.submit(
        f"/officials/polls/{poll_id}/questions",
        {"kind": "scale", "text_ru": "Оцените", "scale_min": "1", "scale_max": "5"},
    )
    assert r.status_code == 303
    with transaction(session_factory) as s:
        qs = s.scalars(select(PollQuestion).order_by(PollQuestion.position)).all()
        assert [q.kind for q in qs] == ["single", "scale"]
        assert len(s.scalars(select(PollOption)).all()) == 2
        second = qs[1].id
    assert (
        b.submit(
            f"/officials/polls/{poll_id}/questions/{second}/move", {"direction": "up"}
        ).status_code
        == 303
    )
    with transaction(session_factory) as s:
        assert s.scalars(select(PollQuestion.kind).order_by(PollQuestion.position)).all() == [
            "scale",
            "single",
        ]
    assert b.get("/officials/polls").status_code == 200
    assert b.get(f"/officials/polls/{poll_id}").status_code == 200


def test_bad_dates_and_single_option_refused(app: Any, session_factory: Any) -> None:
    b = official(app, session_factory)
    r = b.submit("/officials/polls/new", {**POLL, "closes_at": "2030-04-01T09:00"})
    assert r.status_code == 422
    with transaction(session_factory) as s:
        assert s.scalars(select(Poll)).all() == []
    ids = make_poll(session_factory)
    r = b.submit(
        f"/officials/polls/{ids['poll']}/questions",
        {"kind": "single", "text_ru": "Один?", "options_ru": "Только"},
    )
    assert r.status_code == 422


def test_frozen_poll_refuses_changes_but_moves_close_date(app: Any, session_factory: Any) -> None:
    ids = make_poll(session_factory)
    make_user(session_factory, "resident@example.org")
    resident = Browser(app)
    resident.login("resident@example.org")
    assert resident.submit(f"/polls/{ids['poll']}/answer", form(ids)).status_code == 303
    b = official(app, session_factory)
    r = b.submit(
        f"/officials/polls/{ids['poll']}/questions",
        {"kind": "single", "text_ru": "Новый?", "options_ru": "А\nБ"},
    )
    assert r.status_code == 409
    assert (
        b.submit(f"/officials/polls/{ids['poll']}/questions/{ids['scale']}/delete").status_code
        == 409
    )
    page = b.get(f"/officials/polls/{ids['poll']}")
    values = dict(re.findall(r'name="(\w+)" type="[\w-]+" value="([^"]*)"', page.text))
    data = {k: values[k] for k in ("title_ru", "title_en", "opens_at", "closes_at", "points")}
    data.update(allow_change="on", published="on")
    with transaction(session_factory) as s:
        district = s.scalar(select(District.id))
    assert (
        b.submit(
            f"/officials/polls/{ids['poll']}", {**data, f"district_{district}": "on"}
        ).status_code
        == 409
    )
    with transaction(session_factory) as s:
        assert s.scalars(select(PollDistrict)).all() == []
        assert len(s.scalars(select(PollQuestion)).all()) == 4
    later = (datetime.fromisoformat(data["closes_at"]) + timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    r = b.submit(f"/officials/polls/{ids['poll']}", {**data, "closes_at": later})
    assert r.status_code == 303, r.text[:1000]
    with transaction(session_factory) as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "poll.close_moved")).one()
        assert entry.target_id == ids["poll"] and "before" in entry.details


def test_residents_cannot_reach_admin(app: Any, session_factory: Any) -> None:
    make_user(session_factory, "citizen@example.org")
    b = Browser(app)
    b.login("citizen@example.org")
    assert b.get("/officials/polls").status_code == 403
    assert b.submit("/officials/polls/new", POLL).status_code == 403
    with transaction(session_factory) as s:
        assert s.scalars(select(Poll)).all() == []


def _jpeg_with_exif() -> bytes:
    import io

    from PIL import Image

    img = Image.new("RGB", (64, 48), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_poll_picture_is_reencoded_described_audited_and_frozen_with_the_poll(
    app: Any, session_factory: Any, settings: Any
) -> None:
    b = official(app, session_factory)
    ids = make_poll(session_factory, slug="pic")
    url = f"/officials/polls/{ids['poll']}/image"
    raw = _jpeg_with_exif()
    no_alt = b.post(
        url, data={"csrf_token": b.csrf()}, files={"image": ("p.jpg", raw, "image/jpeg")}
    )
    assert no_alt.status_code == 422 and 'id="image_alt-error"' in no_alt.text
    fake = b.post(
        url,
        data={"csrf_token": b.csrf(), "image_alt": "Парк"},
        files={"image": ("p.jpg", b"not an image", "image/jpeg")},
    )
    assert fake.status_code == 422
    ok = b.post(
        url,
        data={"csrf_token": b.csrf(), "image_alt": "Парк у пруда"},
        files={"image": ("p.jpg", raw, "image/jpeg")},
    )
    assert ok.status_code == 303, ok.text[:300]
    with transaction(session_factory) as s:
        poll = s.get(Poll, ids["poll"])
        assert poll is not None and poll.image_key is not None
        key = poll.image_key
        assert s.scalars(select(AuditLog).where(AuditLog.action == "poll.image")).all()
    stored = (settings.media_path / f"{key}.jpg").read_bytes()
    assert b"SecretCam" not in stored and b"Exif" not in stored
    page = b.get(f"/polls/{ids['poll']}")
    assert f"/media/{key}.jpg" in page.text and 'alt="Парк у пруда"' in page.text
    # once a resident answered, the picture stays as it is (409)
    resident = make_user(session_factory, "pic-resident@example.org")
    with transaction(session_factory) as s:
        s.add(PollResponse(poll_id=ids["poll"], user_id=resident.id))
        poll = s.get(Poll, ids["poll"])
        assert poll is not None
        poll.frozen_at = datetime.now() - timedelta(minutes=1)
    frozen = b.post(url, data={"csrf_token": b.csrf(), "remove": "1"})
    assert frozen.status_code == 409
    with transaction(session_factory) as s:
        assert s.scalar(select(Poll.image_key).where(Poll.id == ids["poll"])) == key
