"""Officials create and edit projects: the form, dates, locks once voting opened, the override,
the cover, experts (real HTTP with CSRF, the real database, the audit log)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea, stages_around
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    AuditLog,
    District,
    Project,
    ProjectExpert,
    ProjectPot,
    ProjectStage,
    utcnow,
)
from webapp.kernel.validation import local_input
from webapp.projects.admin import slugify

MSK = ZoneInfo("Europe/Moscow")


def _browser(app: Starlette, factory: sessionmaker[Session], role: str) -> Browser:
    make_user(factory, f"{role}@example.org", role=role)
    b = Browser(app)
    b.__enter__()
    b.login(f"{role}@example.org")
    return b


@pytest.fixture
def official(app: Starlette, session_factory: sessionmaker[Session]) -> Iterator[Browser]:
    b = _browser(app, session_factory, "official")
    yield b
    b.__exit__(None, None, None)


def _form(**changes: str) -> dict[str, str]:
    base = {
        "title_ru": "Как изменить наши парки?",
        "title_en": "How should our parks change?",
        "description_ru": "Предлагайте, как обновить парки.",
        "languages": "ru,en",
        "proposals_starts_at": "2030-03-01T09:00",
        "proposals_ends_at": "2030-04-01T09:00",
        "review_starts_at": "2030-04-01T09:00",
        "review_ends_at": "2030-05-01T09:00",
        "voting_starts_at": "2030-05-01T09:00",
        "voting_ends_at": "2030-06-01T09:00",
        "voting": "knapsack",
        "rule": "equal_shares",
        "eligibility": "everyone",
        "budget": "10 000 000",
        "published": "1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v != "-"}


def _audit(factory: sessionmaker[Session], action: str) -> list[AuditLog]:
    with transaction(factory) as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == action)))
        for r in rows:
            s.expunge(r)
        return rows


def _project_count(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        return len(list(s.scalars(select(Project.id))))


def test_slug_is_transliterated_from_the_question() -> None:
    assert slugify("Как изменить наши парки?") == "kak-izmenit-nashi-parki"
    assert slugify("Щёлково: Wi-Fi в парке") == "shchelkovo-wi-fi-v-parke"
    assert slugify("???") == "project"


def test_official_creates_a_project_with_stages_pots_and_audit(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    page = official.get("/officials/projects/new")
    assert page.status_code == 200
    assert 'name="proposals_starts_at"' in page.text and 'type="datetime-local"' in page.text
    with transaction(session_factory) as s:
        district = s.scalar(select(District.id).where(District.parent_id.is_not(None)))
    response = official.submit(
        "/officials/projects/new",
        _form(pot_district_0=str(district), pot_amount_0="2000000"),
    )
    assert response.status_code == 303, response.text[:800]
    with transaction(session_factory) as s:
        project = s.scalar(select(Project).where(Project.slug == "kak-izmenit-nashi-parki"))
        assert project is not None and project.published and project.voting == "knapsack"
        assert project.rule == "equal_shares"
        stages = {
            st.stage: st
            for st in s.scalars(select(ProjectStage).where(ProjectStage.project_id == project.id))
        }
        pots = {
            p.district_id: p.amount
            for p in s.scalars(select(ProjectPot).where(ProjectPot.project_id == project.id))
        }
        pid = project.id
    assert set(stages) == {"proposals", "review", "voting"}
    # 09:00 in Moscow is 06:00 UTC
    assert stages["proposals"].starts_at.astimezone(MSK).hour == 9
    assert stages["proposals"].starts_at.hour == 6
    assert pots == {None: 10_000_000, district: 2_000_000}
    assert response.headers["location"] == f"/officials/projects/{pid}/edit"
    entries = _audit(session_factory, "project.create")
    assert [e.target_id for e in entries] == [pid]
    # the edit page shows the dates back in the city's time
    edit = official.get(f"/officials/projects/{pid}/edit")
    assert 'value="2030-03-01T09:00"' in edit.text
    assert official.get("/officials/projects").text.count(f'data-project="{pid}"') == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"proposals_starts_at": ""}, "proposals_starts_at"),
        ({"proposals_ends_at": "2030-02-01T09:00"}, "proposals_ends_at"),
        ({"review_starts_at": "2030-03-15T09:00"}, "review_starts_at"),
        ({"voting_starts_at": "not a date"}, "voting_starts_at"),
        ({"budget": "", "voting": "approval", "approval_limit": "3"}, "budget"),
        ({"voting": "approval"}, "approval_limit"),
        ({"title_ru": ""}, "title_ru"),
        ({"slug": "Не латиница"}, "slug"),
    ],
)
def test_bad_input_is_422_per_field_in_russian_and_nothing_is_stored(
    official: Browser,
    session_factory: sessionmaker[Session],
    changes: dict[str, str],
    field: str,
) -> None:
    before = _project_count(session_factory)
    response = official.submit("/officials/projects/new", _form(**changes))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert "Исправьте ошибки" in response.text or "ошиб" in response.text.lower()
    assert _project_count(session_factory) == before


def test_dates_in_wrong_order_say_so_in_the_users_language(official: Browser) -> None:
    response = official.submit(
        "/officials/projects/new", _form(proposals_ends_at="2030-02-01T09:00")
    )
    assert response.status_code == 422
    assert "Этап должен закончиться позже, чем начался" in response.text


def test_changes_after_voting_opened_are_409_except_extending_the_current_stage(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="voting", voting="knapsack")
    values = official.get(f"/officials/projects/{pid}/edit")
    assert values.status_code == 200
    with transaction(session_factory) as s:
        windows = {
            st.stage: (st.starts_at, st.ends_at)
            for st in s.scalars(select(ProjectStage).where(ProjectStage.project_id == pid))
        }
    form = {"title_ru": "Как изменить наши парки?", "voting": "knapsack", "budget": "10000000"}
    for stage, (start, end) in windows.items():
        form[f"{stage}_starts_at"] = local_input(start, MSK)
        form[f"{stage}_ends_at"] = local_input(end, MSK)
    # a bigger budget: refused, nothing changes
    refused = official.submit(f"/officials/projects/{pid}/edit", {**form, "budget": "20000000"})
    assert refused.status_code == 409
    assert "ставшие бюллетени" in refused.text or "бюллетени" in refused.text
    # moving the start of voting: refused
    start = windows["voting"][0] + timedelta(hours=1)
    moved = official.submit(
        f"/officials/projects/{pid}/edit", {**form, "voting_starts_at": local_input(start, MSK)}
    )
    assert moved.status_code == 409
    # another rule: refused
    assert (
        official.submit(
            f"/officials/projects/{pid}/edit", {**form, "rule": "equal_shares"}
        ).status_code
        == 409
    )
    with transaction(session_factory) as s:
        assert s.scalar(select(ProjectPot.amount).where(ProjectPot.project_id == pid)) == 10_000_000
        assert s.scalar(select(Project.rule).where(Project.id == pid)) == "greedy"
    # extending the end of voting (and moving the later stages with it) is allowed
    end, results_end = windows["voting"][1], windows["results"][1]
    assert end is not None and results_end is not None
    later = {
        "voting_ends_at": local_input(end + timedelta(days=2), MSK),
        "results_starts_at": local_input(windows["results"][0] + timedelta(days=2), MSK),
        "results_ends_at": local_input(results_end + timedelta(days=2), MSK),
        "implementation_starts_at": local_input(
            windows["implementation"][0] + timedelta(days=2), MSK
        ),
    }
    ok = official.submit(f"/officials/projects/{pid}/edit", {**form, **later})
    assert ok.status_code == 303, ok.text[:1000]
    with transaction(session_factory) as s:
        new_end = s.scalar(
            select(ProjectStage.ends_at).where(
                ProjectStage.project_id == pid, ProjectStage.stage == "voting"
            )
        )
    assert new_end is not None and new_end > end
    updates = _audit(session_factory, "project.update")
    assert len(updates) == 1 and "stages" in updates[0].details["after"]


def test_override_needs_a_reason_and_is_audited_with_before_and_after(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="proposals")
    missing = official.submit(f"/officials/projects/{pid}/override", {"stage": "closed"})
    assert missing.status_code == 422
    assert 'id="reason-error"' in missing.text
    done = official.submit(
        f"/officials/projects/{pid}/override", {"stage": "closed", "reason": "Решение суда"}
    )
    assert done.status_code == 303
    with transaction(session_factory) as s:
        project = s.get(Project, pid)
        assert project is not None
        assert (project.stage_override, project.override_reason) == ("closed", "Решение суда")
    [entry] = _audit(session_factory, "project.override")
    assert entry.details["before"]["stage_override"] is None
    assert entry.details["after"]["stage_override"] == "closed"
    assert entry.reason == "Решение суда"
    back = official.submit(
        f"/officials/projects/{pid}/override", {"stage": "", "reason": "Суд отменил решение"}
    )
    assert back.status_code == 303
    with transaction(session_factory) as s:
        assert s.scalar(select(Project.stage_override).where(Project.id == pid)) is None
    # the permanent pool has no stages to set
    permanent = official.submit(
        f"/officials/projects/{PERMANENT_PROJECT_ID}/override",
        {"stage": "closed", "reason": "Проверка"},
    )
    assert permanent.status_code == 409


def test_the_permanent_pool_keeps_no_stages_no_budget_and_cannot_be_deleted(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    page = official.get(f"/officials/projects/{PERMANENT_PROJECT_ID}/edit")
    assert page.status_code == 200 and 'name="proposals_starts_at"' not in page.text
    edited = official.submit(
        f"/officials/projects/{PERMANENT_PROJECT_ID}/edit",
        {"title_ru": "Идеи для Москвы", "languages": "ru,en"},
    )
    assert edited.status_code == 303
    with_budget = official.submit(
        f"/officials/projects/{PERMANENT_PROJECT_ID}/edit",
        {"title_ru": "Идеи для Москвы", "voting": "knapsack", "budget": "100"},
    )
    assert with_budget.status_code == 422
    with_stage = official.submit(
        f"/officials/projects/{PERMANENT_PROJECT_ID}/edit",
        {"title_ru": "Идеи для Москвы", "proposals_starts_at": "2030-01-01T00:00"},
    )
    assert with_stage.status_code == 422
    assert official.submit(f"/officials/projects/{PERMANENT_PROJECT_ID}/delete").status_code == 409
    with transaction(session_factory) as s:
        project = s.get(Project, PERMANENT_PROJECT_ID)
        assert project is not None and project.title_ru == "Идеи для Москвы"
        assert project.voting == "supports" and project.published
        assert s.scalar(select(ProjectPot.id).where(ProjectPot.project_id == 1)) is None


def test_delete_only_a_project_without_ideas(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    empty = make_project(session_factory, current=None)
    used = make_project(session_factory, current="proposals")
    make_project_idea(session_factory, used, "Скамейки у пруда")
    assert official.submit(f"/officials/projects/{used}/delete").status_code == 409
    assert official.submit(f"/officials/projects/{empty}/delete").status_code == 303
    with transaction(session_factory) as s:
        assert s.get(Project, empty) is None and s.get(Project, used) is not None
    assert [e.target_id for e in _audit(session_factory, "project.delete")] == [empty]


def test_experts_are_added_by_email_and_removed_with_audit(
    official: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="review")
    expert = make_user(session_factory, "Expert@Example.org", name="Эксперт")
    unknown = official.submit(f"/officials/projects/{pid}/experts", {"email": "nobody@example.org"})
    assert unknown.status_code == 422
    assert "Нет учётной записи" in unknown.text
    added = official.submit(f"/officials/projects/{pid}/experts", {"email": "expert@example.org"})
    assert added.status_code == 303
    again = official.submit(f"/officials/projects/{pid}/experts", {"email": "EXPERT@example.org"})
    assert again.status_code == 303
    page = official.get(f"/officials/projects/{pid}/edit")
    assert f'data-expert="{expert.id}"' in page.text
    with transaction(session_factory) as s:
        assert s.get(ProjectExpert, (pid, expert.id)) is not None
    assert len(_audit(session_factory, "project.expert_add")) == 1
    removed = official.submit(f"/officials/projects/{pid}/experts/{expert.id}/remove")
    assert removed.status_code == 303
    with transaction(session_factory) as s:
        assert s.get(ProjectExpert, (pid, expert.id)) is None
    [entry] = _audit(session_factory, "project.expert_remove")
    assert entry.details["expert"]["user_id"] == expert.id


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_cover_is_reencoded_without_metadata_and_needs_a_description(
    official: Browser, session_factory: sessionmaker[Session], settings: Any
) -> None:
    pid = make_project(session_factory, current="proposals")
    raw = _jpeg_with_exif()
    assert b"SecretCam" in raw
    url = f"/officials/projects/{pid}/cover"
    no_alt = official.post(
        url, data={"csrf_token": official.csrf()}, files={"cover": ("c.jpg", raw, "image/jpeg")}
    )
    assert no_alt.status_code == 422 and 'id="cover_alt-error"' in no_alt.text
    not_image = official.post(
        url,
        data={"csrf_token": official.csrf(), "cover_alt": "Парк"},
        files={"cover": ("c.jpg", b"not an image", "image/jpeg")},
    )
    assert not_image.status_code == 422
    with transaction(session_factory) as s:
        assert s.scalar(select(Project.cover_key).where(Project.id == pid)) is None
    ok = official.post(
        url,
        data={"csrf_token": official.csrf(), "cover_alt": "Парк осенью"},
        files={"cover": ("c.jpg", raw, "image/jpeg")},
    )
    assert ok.status_code == 303, ok.text[:500]
    with transaction(session_factory) as s:
        key = s.scalar(select(Project.cover_key).where(Project.id == pid))
    assert key is not None
    stored = (settings.media_path / f"{key}.jpg").read_bytes()
    assert b"SecretCam" not in stored and b"Exif" not in stored
    page = official.get(f"/projects/{pid}")
    assert f"/media/{key}.jpg" in page.text and 'alt="Парк осенью"' in page.text
    assert len(_audit(session_factory, "project.cover")) == 1


def test_citizens_may_not_use_the_officials_forms(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    citizen = _browser(app, session_factory, "citizen")
    try:
        assert citizen.get("/officials/projects").status_code == 403
        assert citizen.submit("/officials/projects/new", _form()).status_code == 403
    finally:
        citizen.__exit__(None, None, None)
    assert _project_count(session_factory) == 1  # the permanent pool only


def test_stage_helper_is_consistent() -> None:
    stages = stages_around("voting", utcnow())
    assert stages["voting"][0] < utcnow() < stages["voting"][1]  # type: ignore[operator]
