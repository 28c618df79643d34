"""The stage in force and the gate: what a citizen may do when, and what a refusal says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.project_helpers import make_project, stages_around
from webapp.i18n import Translator
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID, Project
from webapp.projects import gates
from webapp.projects.stages import Window, allows, state_at, validate_windows

T0 = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
DAY = timedelta(days=1)
WINDOWS = [
    Window("proposals", T0, T0 + 10 * DAY),
    Window("review", T0 + 10 * DAY, T0 + 20 * DAY),
    # a gap of five days before the vote
    Window("voting", T0 + 25 * DAY, T0 + 35 * DAY),
    Window("results", T0 + 35 * DAY, T0 + 40 * DAY),
    Window("implementation", T0 + 40 * DAY, None),
]


@pytest.mark.parametrize(
    ("moment", "phase", "stage", "next_stage"),
    [
        (T0 - DAY, "upcoming", None, "proposals"),
        (T0, "open", "proposals", "review"),
        (T0 + 10 * DAY - timedelta(seconds=1), "open", "proposals", "review"),
        (T0 + 10 * DAY, "open", "review", "voting"),
        (T0 + 22 * DAY, "between", None, "voting"),
        (T0 + 25 * DAY, "open", "voting", "results"),
        (T0 + 400 * DAY, "open", "implementation", None),
    ],
)
def test_the_stage_in_force_follows_the_dates(
    moment: datetime, phase: str, stage: str | None, next_stage: str | None
) -> None:
    state = state_at(moment, WINDOWS)
    assert (state.phase, state.stage, state.next_stage) == (phase, stage, next_stage)


def test_after_the_last_dated_stage_the_project_is_finished() -> None:
    closed = [Window("proposals", T0, T0 + DAY), Window("voting", T0 + DAY, T0 + 2 * DAY)]
    assert state_at(T0 + 3 * DAY, closed).phase == "finished"


def test_an_override_wins_over_the_dates_and_closed_closes_everything() -> None:
    during_proposals = T0 + DAY
    state = state_at(during_proposals, WINDOWS, override="voting")
    assert (state.phase, state.stage) == ("override", "voting")
    assert allows(state, "support") and not allows(state, "propose")
    closed = state_at(during_proposals, WINDOWS, override="closed")
    assert not any(allows(closed, a) for a in ("propose", "support", "ballot", "comment"))


def test_what_each_stage_allows() -> None:
    def at(day: int, voting: str = "supports") -> set[str]:
        state = state_at(T0 + day * DAY, WINDOWS)
        return {a for a in ("propose", "support", "ballot", "evaluate") if allows(state, a, voting)}

    assert at(1) == {"propose"}
    assert at(11) == {"evaluate"}
    assert at(22) == set()
    assert at(26) == {"support"}
    assert at(26, "knapsack") == {"ballot"}
    assert at(36) == set()
    permanent = state_at(T0, [], permanent=True)
    assert allows(permanent, "propose") and allows(permanent, "support")
    assert not allows(permanent, "ballot")


def test_bad_dates_are_named_per_stage() -> None:
    assert validate_windows(WINDOWS) == []
    backwards = [Window("proposals", T0, T0 - DAY)]
    assert validate_windows(backwards) == [("proposals", "The stage must end after it starts.")]
    overlapping = [Window("proposals", T0, T0 + 10 * DAY), Window("review", T0 + 5 * DAY, None)]
    assert validate_windows(overlapping) == [
        ("review", "The stage must start after the previous one ends.")
    ]


def _message(exc: Conflict, lang: str) -> str:
    return Translator(lang, "Europe/Moscow").gettext(exc.message, **exc.params)


def test_a_citizen_too_early_is_told_when_proposals_open_in_their_language(
    session_factory: sessionmaker[Session],
) -> None:
    windows = {w.stage: (w.starts_at, w.ends_at) for w in WINDOWS}
    project_id = make_project(session_factory, stages=windows)
    with transaction(session_factory) as session, pytest.raises(Conflict) as exc:
        gates.require_open(session, project_id, "propose", now=T0 - DAY)
    assert (
        _message(exc.value, "ru")
        == "Приём предложений в этом проекте откроется 1 марта 2027, 10:00."
    )
    assert _message(exc.value, "en") == "Proposals for this project open on 1 March 2027, 10:00."


def test_a_citizen_too_late_is_told_when_it_closed(session_factory: sessionmaker[Session]) -> None:
    windows = {w.stage: (w.starts_at, w.ends_at) for w in WINDOWS}
    project_id = make_project(session_factory, stages=windows)
    with transaction(session_factory) as session, pytest.raises(Conflict) as exc:
        gates.require_open(session, project_id, "support", now=T0 + 36 * DAY)
    assert (
        _message(exc.value, "ru") == "Голосование в этом проекте завершилось 5 апреля 2027, 10:00."
    )
    with transaction(session_factory) as session:
        gate = gates.require_open(session, project_id, "support", now=T0 + 30 * DAY)
    assert gate.state.stage == "voting"


def test_a_closed_project_gives_the_citys_reason(session_factory: sessionmaker[Session]) -> None:
    project_id = make_project(session_factory, current="proposals")
    with transaction(session_factory) as session:
        project = session.get(Project, project_id)
        assert project is not None
        project.stage_override = "closed"
        project.override_reason = "перенос сроков"
    with transaction(session_factory) as session, pytest.raises(Conflict) as exc:
        gates.require_open(session, project_id, "propose")
    assert _message(exc.value, "ru") == "Город закрыл этот проект: перенос сроков"


def test_drafts_are_not_found_by_citizens_but_staff_see_them(
    session_factory: sessionmaker[Session],
) -> None:
    project_id = make_project(session_factory, current="proposals", published=False)
    with transaction(session_factory) as session, pytest.raises(NotFound):
        gates.require_open(session, project_id, "propose")
    with transaction(session_factory) as session:
        assert gates.require_open(session, project_id, "propose", staff=True).id == project_id


def test_the_permanent_pool_is_always_open_for_proposals_and_supports(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        for action in ("propose", "support"):
            gates.require_open(session, PERMANENT_PROJECT_ID, action, now=T0 + 9999 * DAY)
        with pytest.raises(Conflict):
            gates.require_open(session, PERMANENT_PROJECT_ID, "ballot")


def test_stages_around_helper_opens_the_asked_stage() -> None:
    windows = [Window(s, a, b) for s, (a, b) in stages_around("voting").items()]
    assert state_at(datetime.now(UTC), windows).stage == "voting"
