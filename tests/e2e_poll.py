"""A city poll end to end in a real browser, in Russian or in English, shared by
tests/test_e2e_poll.py and `make screenshots`.

An official (who picks the language with the site's language switch) creates a poll with
Russian and English texts for two districts of two okrugs, adds the four kinds of question
through the form and publishes it; residents of the two districts answer through the form (one
changes the answer: replaced, still one response); a resident of a third district is refused
in the page's language; the official finds the questions frozen, moves the close date to the
past (audited); a resident reads the results, where the census correction moves the shares as
the population file predicts; "my answers" lists the poll.

Residents: three of Yakimanka (a small district of the Central okrug) answer A, one of Maryino
(a big district of the South-Eastern okrug) answers B. Two answer in the browser (one of each
district); the other two Yakimanka residents are planted through the same use-case the form
calls (``webapp.polls.answering.submit``). Accounts are made with a district (the registration
service, as ``tests.helpers.make_user`` does, plus the district).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.e2e_access import PAGE_TEXT, leaks
from tests.e2e_flows import Site, log_in, t
from tests.helpers import PASSWORD
from webapp.accounts import users as users_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    District,
    Poll,
    PollAnswer,
    PollOption,
    PollQuestion,
    PollResponse,
    utcnow,
)
from webapp.polls import answering
from webapp.polls.answering import RawAnswer
from webapp.polls.population import read_figures

SMALL, BIG, OUTSIDE = "yakimanka", "maryino", "aeroport"  # Central, South-Eastern, Northern
PHONE = {"width": 360, "height": 740}
MAX_SHOT_HEIGHT = 2200  # the top of a long page, at most about three screens


@dataclass(frozen=True)
class Texts:
    ru: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.ru


TITLE = Texts(
    "Как благоустроить набережные Якиманки и Марьина?",
    "How should the Yakimanka and Maryino embankments be improved?",
)
DESCRIPTION = Texts(
    "Город готовит работы на набережных. Скажите, что важно вам.",
    "The city is planning works on the embankments. Tell us what matters to you.",
)
# (kind, question, options, extra form fields)
SINGLE = Texts(
    "Что сделать на набережной в первую очередь?", "What should the embankment get first?"
)
SINGLE_OPTIONS = [
    Texts("Велодорожку", "A cycle path"),
    Texts("Скамейки и тень", "Benches and shade"),
    Texts("Спортивную площадку", "A sports ground"),
]
MULTIPLE = Texts("Когда вы бываете на набережной?", "When do you visit the embankment?")
MULTIPLE_OPTIONS = [
    Texts("Утром", "In the morning"),
    Texts("Днём", "In the afternoon"),
    Texts("Вечером", "In the evening"),
]
SCALE = Texts(
    "Насколько вам нравится набережная сейчас?", "How much do you like the embankment now?"
)
RANKING = Texts("Расставьте работы по важности", "Put the works in order of importance")
RANKING_OPTIONS = [
    Texts("Освещение", "Lighting"),
    Texts("Туалеты", "Toilets"),
    Texts("Питьевые фонтанчики", "Drinking fountains"),
]
OTHER = Texts("Причал для речных трамвайчиков", "A pier for river boats")
POINTS = 5

# What each district's residents answer: (single option, multiple options, scale, ranking order)
ANSWER_SMALL = (0, (0, 2), 5, (0, 1, 2))
ANSWER_BIG = (1, (1,), 1, (1, 0, 2))
PLANTED_SMALL = 2  # Yakimanka residents planted through the use-case (one more answers in the page)


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _resident(site: Site, email: str, district_slug: str, name: str) -> CurrentUser:
    with transaction(site.factory) as s:
        district_id = s.scalar(select(District.id).where(District.slug == district_slug))
        assert district_id is not None, district_slug
        return users_service.register(
            s, email=email, display_name=name, password=PASSWORD, district_id=district_id
        )


def _district_ids(site: Site) -> dict[str, int]:
    with transaction(site.factory) as s:
        rows = s.execute(
            select(District.slug, District.id).where(District.slug.in_([SMALL, BIG, OUTSIDE]))
        ).all()
    return {slug: int(i) for slug, i in rows}


def _shot(site: Site, page: Any, name: str, full: bool = False) -> None:
    """A PNG of the viewport, or (``full``) of the page's top, at most ``MAX_SHOT_HEIGHT``."""
    if site.shots is None:
        return
    if not full:
        site.shot(page, name)
        return
    # A taller window for the shot, then the old one back (Chromium's full-page capture can
    # leave the page deaf to the next click).
    viewport = dict(page.viewport_size)
    page.evaluate("window.scrollTo(0, 0)")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": min(height, MAX_SHOT_HEIGHT)})
    site.shot(page, name)
    page.set_viewport_size(viewport)


def _in_language(
    page: Any, lang: str, heading: str | None = None, quoted: tuple[str, ...] = ()
) -> None:
    """The page speaks ``lang``: ``<html lang>``, the heading, no string of the other language
    (``quoted``: texts the page quotes as they are, e.g. the census citation, left out)."""
    assert page.get_attribute("html", "lang") == lang, page.url
    if heading is not None:
        headings = page.locator("main h1, main h2").all_inner_texts()
        assert any(h.strip().startswith(t(lang, heading)) for h in headings), (heading, headings)
    text = page.evaluate(PAGE_TEXT, lang)
    for part in quoted:
        text = text.replace(" ".join(part.split()), " ")
    found = leaks(lang, text)
    assert not found, f"{page.url}: strings of the other language: {found}"


def _switch_language(site: Site, lang: str) -> Any:
    """A visitor whose browser asks for the other language picks ``lang`` with the switch."""
    page = site.page("en" if lang == "ru" else "ru")
    page.goto(f"{site.base}/login")
    assert page.get_attribute("html", "lang") != lang
    with page.expect_navigation():
        page.locator(f"form.lang-switch button[name=lang][value={lang}]").first.click()
    assert page.get_attribute("html", "lang") == lang
    return page


def _flash(page: Any) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def _save_poll_form(page: Any) -> Any:
    with page.expect_navigation() as nav:
        page.click("form.poll-admin-form button[type=submit]")
    return nav.value


def _add_question(
    page: Any,
    lang: str,
    kind: str,
    text: Texts,
    options: list[Texts],
    **extra: str,
) -> None:
    page.select_option("#kind", kind)
    page.fill("#text_ru", text.ru)
    page.fill("#text_en", text.en)
    page.fill("#options_ru", "\n".join(o.ru for o in options))
    page.fill("#options_en", "\n".join(o.en for o in options))
    for name, value in extra.items():
        if value == "on":
            page.check(f"#f-{name}")
        else:
            page.fill(f"#{name}", value)
    with page.expect_navigation():
        page.click("form[action$='/questions'] button[type=submit]")
    assert t(lang, "The question is added.") in _flash(page), page.inner_text("main")[:2000]


def _question(page: Any, text: Texts, lang: str) -> Any:
    return page.locator("form.poll-form fieldset").filter(has_text=text(lang))


def _answer_in_page(page: Any, lang: str, answer: tuple[Any, ...], other: str = "") -> None:
    """Fill the poll's form as a resident would (labels in the page's language) and send it."""
    single, multiple, scale, ranking = answer
    box = _question(page, SINGLE, lang)
    if other:
        box.get_by_label(t(lang, "Other"), exact=True).check()
        box.get_by_label(t(lang, "Your answer"), exact=True).fill(other)
    else:
        box.get_by_label(SINGLE_OPTIONS[single](lang), exact=True).check()
        box.get_by_label(t(lang, "Your answer"), exact=True).fill("")
    box = _question(page, MULTIPLE, lang)
    for n, option in enumerate(MULTIPLE_OPTIONS):
        box.get_by_label(option(lang), exact=True).set_checked(n in multiple)
    _question(page, SCALE, lang).get_by_label(str(scale), exact=True).check()
    box = _question(page, RANKING, lang)
    for place, n in enumerate(ranking, start=1):
        box.get_by_label(RANKING_OPTIONS[n](lang), exact=True).select_option(str(place))
    with page.expect_navigation():
        page.click("form.poll-form button[type=submit]")


def _percentages(text: str) -> list[float]:
    return [float(n.replace(",", ".")) for n in re.findall(r"(\d+(?:[.,]\d+)?)\s*%", text)]


def _decimals(text: str) -> list[float]:
    return [float(n.replace(",", ".")) for n in re.findall(r"\d+[.,]\d+", text)]


def _near(value: float, found: list[float], tolerance: float) -> bool:
    return any(abs(value - f) <= tolerance for f in found)


def _section(text: str, heading: str, following: list[str]) -> str:
    """The part of the page's text from ``heading`` to the next of ``following``."""
    start = text.index(heading)
    ends = [i for h in following if (i := text.find(h, start + len(heading))) > 0]
    return text[start : min(ends, default=len(text))]


def expected_correction(population_file: str = "") -> dict[str, float]:
    """What the census correction must give for the planted answers, from the population file:
    post-stratification over the two districts that answered (each weighs its population's
    share among them), and Kish's design effect of those weights."""
    figures = read_figures(population_file)
    small, big = figures.districts[SMALL], figures.districts[BIG]
    n_small, n_big = PLANTED_SMALL + 1, 1
    n = n_small + n_big
    share_small = small / (small + big)
    w_small = share_small / (n_small / n)
    w_big = (1 - share_small) / (n_big / n)
    weights = [w_small] * n_small + [w_big] * n_big
    deff = n * sum(w * w for w in weights) / sum(weights) ** 2
    return {
        "raw_a": n_small / n,
        "corrected_a": share_small,
        "raw_b": n_big / n,
        "corrected_b": 1 - share_small,
        "raw_mean": (n_small * ANSWER_SMALL[2] + n_big * ANSWER_BIG[2]) / n,
        "corrected_mean": share_small * ANSWER_SMALL[2] + (1 - share_small) * ANSWER_BIG[2],
        "design_effect": deff,
        "effective_n": n / deff,
    }


def _plant(site: Site, poll_id: int, voters: list[CurrentUser], answer: tuple[Any, ...]) -> None:
    """Residents who answer through the use-case the form calls (not the flow's subject)."""
    single, multiple, scale, ranking = answer
    with transaction(site.factory) as s:
        questions = {
            q.kind: q
            for q in s.scalars(select(PollQuestion).where(PollQuestion.poll_id == poll_id))
        }
        options = {
            kind: list(
                s.scalars(
                    select(PollOption.id)
                    .where(PollOption.question_id == q.id)
                    .order_by(PollOption.position, PollOption.id)
                )
            )
            for kind, q in questions.items()
        }
        raw = {
            questions["single"].id: RawAnswer(options=(options["single"][single],)),
            questions["multiple"].id: RawAnswer(
                options=tuple(options["multiple"][n] for n in multiple)
            ),
            questions["scale"].id: RawAnswer(value=scale),
            questions["ranking"].id: RawAnswer(order=tuple(options["ranking"][n] for n in ranking)),
        }
    for voter in voters:
        with transaction(site.factory) as s:
            answering.submit(s, voter, poll_id, raw)


def _responses(site: Site, poll_id: int, user_id: int | None = None) -> int:
    with transaction(site.factory) as s:
        query = (
            select(func.count()).select_from(PollResponse).where(PollResponse.poll_id == poll_id)
        )
        if user_id is not None:
            query = query.where(PollResponse.user_id == user_id)
        return int(s.scalar(query) or 0)


def city_poll_end_to_end(site: Site, lang: str) -> dict[str, Any]:
    """The whole poll in ``lang`` (see the module's docstring); the poll id and the figures."""
    settings = site.app.state.settings
    tz = settings.timezone
    districts = _district_ids(site)
    tag = f"poll-{lang}"
    with transaction(site.factory) as s:
        users_service.register(
            s,
            email=f"{tag}-clerk@example.org",
            display_name="Clerk Ivanova",
            password=PASSWORD,
            role="official",
        )
    small = [
        _resident(site, f"{tag}-small{i}@example.org", SMALL, f"Resident {i}")
        for i in range(PLANTED_SMALL + 1)
    ]
    big = _resident(site, f"{tag}-big@example.org", BIG, "Resident 9")
    outsider = _resident(site, f"{tag}-outside@example.org", OUTSIDE, "Resident 10")

    # 1. The official picks the language, signs in and creates the poll: a draft first.
    official = _switch_language(site, lang)
    log_in(site, official, f"{tag}-clerk@example.org")
    official.goto(f"{site.base}/officials/polls/new")
    _in_language(official, lang, "New poll")
    official.fill("#title_ru", TITLE.ru)
    official.fill("#title_en", TITLE.en)
    official.fill("#description_ru", DESCRIPTION.ru)
    official.fill("#description_en", DESCRIPTION.en)
    official.check(f"#district_{districts[SMALL]}")
    official.check(f"#district_{districts[BIG]}")
    now = utcnow()
    official.fill("#opens_at", _local(now - timedelta(hours=1), tz))
    official.fill("#closes_at", _local(now + timedelta(days=14), tz))
    assert not official.is_checked("#f-results_live"), "results after the close"
    assert official.is_checked("#f-allow_change")
    official.fill("#points", str(POINTS))
    official.locator(f"#district_{districts[SMALL]}").scroll_into_view_if_needed()
    _shot(site, official, f"poll-01-official-creates-{lang}", full=True)
    _save_poll_form(official)
    assert t(lang, "The poll is saved.") in _flash(official), official.inner_text("main")[:2000]
    found = re.search(r"/officials/polls/(\d+)$", official.url)
    assert found, official.url
    poll_id = int(found.group(1))
    with transaction(site.factory) as s:
        poll = s.get(Poll, poll_id)
        assert poll is not None and poll.title_ru == TITLE.ru
        assert poll.title_en == TITLE.en and not poll.published and not poll.results_live

    _add_question(official, lang, "single", SINGLE, SINGLE_OPTIONS, allow_other="on", required="on")
    _add_question(official, lang, "multiple", MULTIPLE, MULTIPLE_OPTIONS, max_choices="2")
    _add_question(official, lang, "scale", SCALE, [], scale_min="1", scale_max="5")
    _add_question(official, lang, "ranking", RANKING, RANKING_OPTIONS)
    listed = official.locator(".poll-admin-questions > li").all_inner_texts()
    assert len(listed) == 4, listed
    for question, shown in zip((SINGLE, MULTIPLE, SCALE, RANKING), listed, strict=True):
        assert question(lang) in shown, (question(lang), shown)
    official.check("#f-published")
    _save_poll_form(official)
    assert t(lang, "The poll is saved.") in _flash(official)
    _in_language(official, lang, "Edit poll")
    official.locator(".poll-admin-questions").evaluate("e => e.scrollIntoView()")
    _shot(site, official, f"poll-02-official-questions-published-{lang}")
    with transaction(site.factory) as s:
        stored = s.get(Poll, poll_id)
        assert stored is not None and stored.published
        kinds = s.scalars(
            select(PollQuestion.kind)
            .where(PollQuestion.poll_id == poll_id)
            .order_by(PollQuestion.position)
        ).all()
        assert kinds == ["single", "multiple", "scale", "ranking"]
        single_q = s.scalars(
            select(PollQuestion).where(
                PollQuestion.poll_id == poll_id, PollQuestion.kind == "single"
            )
        ).one()
        assert single_q.allow_other
        multiple_q = s.scalars(
            select(PollQuestion).where(
                PollQuestion.poll_id == poll_id, PollQuestion.kind == "multiple"
            )
        ).one()
        assert multiple_q.max_choices == 2

    # 2. Residents of the two districts answer in the page; one changes their answer.
    resident = site.page(lang)
    log_in(site, resident, small[0].email)
    resident.goto(f"{site.base}/polls")
    _in_language(resident, lang, "Polls")
    with resident.expect_navigation():
        resident.click(f"[data-poll='{poll_id}'] a")
    assert resident.url.endswith(f"/polls/{poll_id}")
    assert TITLE(lang) in resident.inner_text("main h1")
    _in_language(resident, lang)
    _answer_in_page(resident, lang, ANSWER_SMALL, other=OTHER(lang))
    assert t(lang, "Thank you: your answer is saved.") in _flash(resident), resident.inner_text(
        "main"
    )[:2000]
    mine = resident.locator("[data-mine]")
    assert OTHER(lang) in mine.inner_text()
    assert t(lang, "Only you can see your answer.") in mine.inner_text()
    _shot(site, resident, f"poll-03-resident-answered-{lang}")
    # … and changes it (the poll allows it): the free answer gives way to an option.
    _answer_in_page(resident, lang, ANSWER_SMALL)
    assert t(lang, "Your answer is changed.") in _flash(resident)
    mine_text = resident.locator("[data-mine]").inner_text()
    assert SINGLE_OPTIONS[ANSWER_SMALL[0]](lang) in mine_text and OTHER(lang) not in mine_text
    assert _responses(site, poll_id, small[0].id) == 1, "a changed answer replaces the first"
    with transaction(site.factory) as s:
        others = s.scalar(
            select(func.count())
            .select_from(PollAnswer)
            .join(PollResponse, PollResponse.id == PollAnswer.response_id)
            .where(PollResponse.poll_id == poll_id, PollAnswer.other_text.is_not(None))
        )
        assert others == 0, "the replaced free answer is gone"
    resident.locator("[data-mine]").scroll_into_view_if_needed()
    _shot(site, resident, f"poll-04-resident-changed-answer-{lang}")
    # Results are shown after the close only.
    early = resident.goto(f"{site.base}/polls/{poll_id}/results")
    assert early is not None and early.status == 404

    neighbour = site.page(lang)
    log_in(site, neighbour, big.email)
    neighbour.goto(f"{site.base}/polls/{poll_id}")
    _answer_in_page(neighbour, lang, ANSWER_BIG)
    assert t(lang, "Thank you: your answer is saved.") in _flash(neighbour)
    neighbour.context.close()
    _plant(site, poll_id, small[1:], ANSWER_SMALL)
    assert _responses(site, poll_id) == len(small) + 1

    # A resident of a third district, outside the audience: refused in the page's language.
    stranger = site.page(lang)
    log_in(site, stranger, outsider.email)
    stranger.goto(f"{site.base}/polls")
    assert stranger.locator(f"[data-poll='{poll_id}']").count() == 0, "not listed for them"
    stranger.goto(f"{site.base}/polls/{poll_id}")
    refusal = stranger.locator("[data-refusal]")
    assert t(lang, "This poll asks residents of other districts.") in refusal.inner_text()
    assert stranger.locator("form.poll-form").count() == 0
    _in_language(stranger, lang)
    _shot(site, stranger, f"poll-05-outside-audience-refused-{lang}")
    stranger.context.close()
    assert _responses(site, poll_id, outsider.id) == 0

    # 3. The questions are frozen; only the close date moves (audited): to the past.
    official.goto(f"{site.base}/officials/polls/{poll_id}")
    frozen_message = t(
        lang, "Residents have already answered this poll: only its close date may change."
    )
    assert frozen_message in official.locator("[data-frozen]").inner_text()
    assert official.locator("form[action$='/questions']").count() == 0, "no new question"
    assert official.locator("form[action*='/questions/']").count() == 0, "no move, no delete"
    # everything but the close date is read-only on the form; a forged change (the read-only
    # mark removed, as a hand-made request would) is still refused by the server
    assert official.locator(f"#title_{lang}").get_attribute("readonly") is not None
    assert official.locator("#closes_at").get_attribute("readonly") is None
    assert official.locator("#f-published").is_disabled()
    official.eval_on_selector(f"#title_{lang}", "el => el.removeAttribute('readonly')")
    official.fill(f"#title_{lang}", TITLE(lang) + " (2)")
    _save_poll_form(official)
    assert frozen_message in official.locator("[data-conflict]").inner_text()
    with transaction(site.factory) as s:
        assert s.scalar(select(Poll.title_ru).where(Poll.id == poll_id)) == TITLE.ru
    official.goto(f"{site.base}/officials/polls/{poll_id}")
    official.fill("#closes_at", _local(utcnow() - timedelta(minutes=1), tz))
    _save_poll_form(official)
    assert t(lang, "The poll is saved.") in _flash(official)
    _in_language(official, lang, "Edit poll")
    _shot(site, official, f"poll-06-official-moves-close-date-{lang}", full=True)
    with transaction(site.factory) as s:
        moved = s.scalars(
            select(AuditLog).where(
                AuditLog.action == "poll.close_moved", AuditLog.target_id == poll_id
            )
        ).all()
        assert len(moved) == 1 and "before" in moved[0].details and "after" in moved[0].details
        assert s.scalar(select(Poll.title_en).where(Poll.id == poll_id)) == TITLE.en
        closed_at = s.scalar(select(Poll.closes_at).where(Poll.id == poll_id))
        assert closed_at is not None and closed_at.replace(tzinfo=None) < utcnow().replace(
            tzinfo=None
        ), "the close date is in the past"
    assert official.js_errors == [], official.js_errors
    official.context.close()

    # 4. The resident reads the results: raw and corrected shares, the design effect, in words.
    expected = expected_correction(settings.population_file)
    resident.goto(f"{site.base}/polls/{poll_id}")
    assert resident.locator("form.poll-form").count() == 0, "closed: no form"
    assert t(lang, "This poll is closed.") in resident.locator("[data-refusal]").inner_text()
    response = resident.goto(f"{site.base}/polls/{poll_id}/results")
    assert response is not None and response.status == 200
    figures = read_figures(settings.population_file)
    # The full citation is quoted in English on both pages (a lang="en" mark would say so).
    _in_language(resident, lang, "Poll results", quoted=(figures.source, figures.measure))
    text = resident.inner_text("main").replace("\u00a0", " ").replace("\u202f", " ")
    assert TITLE(lang) in text
    label = figures.label.get(lang, "")
    assert label and label in text, "the census source is named in the page's language"
    explained = t(
        lang,
        "Residents of different districts answered unevenly, so we recalculated the shares so "
        "that each district weighs as much as its population (census data: %(source)s).",
        source=label,
    )
    assert explained in text, text[:3000]
    deff = expected["design_effect"]
    assert f"{deff:.2f}".replace(".", ",") in text or f"{deff:.2f}" in text, (deff, text[:3000])
    headings = [q(lang) for q in (SINGLE, MULTIPLE, SCALE, RANKING)]
    single_part = _section(text, SINGLE(lang), headings[1:])
    shares = _percentages(single_part)
    for key in ("raw_a", "corrected_a", "raw_b", "corrected_b"):
        assert _near(expected[key] * 100, shares, 0.051), (key, expected[key], shares)
    assert abs(expected["corrected_a"] - expected["raw_a"]) > 0.3, "the correction moves it"
    scale_part = _section(text, SCALE(lang), headings[3:])
    means = _decimals(scale_part)
    for key in ("raw_mean", "corrected_mean"):
        assert _near(expected[key], means, 0.0051), (key, expected[key], means)
    _shot(site, resident, f"poll-07-results-{lang}", full=True)

    # 5. "My answers" lists the poll, with its points.
    resident.goto(f"{site.base}/polls/mine")
    _in_language(resident, lang, "My answers")
    item = resident.locator(f"[data-poll='{poll_id}']")
    assert TITLE(lang) in item.inner_text()
    assert resident.locator(f"[data-points='{POINTS}']").count() == 1
    _shot(site, resident, f"poll-08-my-answers-{lang}")
    assert resident.js_errors == [], resident.js_errors
    resident.context.close()

    if site.shots is not None:
        phone_pages(site, lang, small[0].email, poll_id)
    return {"poll_id": poll_id, "expected": expected, "text": text}


def phone_pages(site: Site, lang: str, email: str, poll_id: int) -> None:
    """The resident's poll pages on a 360x740 phone (screenshots only)."""
    page = site.page(lang)
    page.set_viewport_size(PHONE)
    log_in(site, page, email)
    for number, name, path in (
        (9, "list", "/polls"),
        (10, "poll", f"/polls/{poll_id}"),
        (11, "results", f"/polls/{poll_id}/results"),
        (12, "my-answers", "/polls/mine"),
    ):
        page.goto(f"{site.base}{path}")
        _shot(site, page, f"poll-{number:02d}-phone360-{name}-{lang}", full=True)
    page.context.close()


def demo_poll_results_with_maps(site: Site, voters: int = 900) -> int:
    """The closed demo poll (simulated answers of ``voters`` demo voters spread over the city,
    the centre over-represented) read by a visitor in both languages, desktop and phone: the
    corrected shares, the okrug table and the district maps. Returns the poll's id."""
    from sqlalchemy import insert

    from webapp.demo.demo_polls import seed_polls
    from webapp.kernel.storage.models import District, User, utcnow

    with transaction(site.factory) as s:
        districts = s.scalars(
            select(District.id).where(District.parent_id.is_not(None)).order_by(District.id)
        ).all()
        now = utcnow()
        s.execute(
            insert(User),
            [
                {
                    "email": f"voter-{i}@demo.veche.local",
                    "display_name": f"Voter {i}",
                    "password_hash": "!",  # cannot log in
                    "district_id": districts[(i * 7) % len(districts)],
                    "created_at": now - timedelta(days=400),
                }
                for i in range(voters)
            ],
        )
    seeded = seed_polls(site.factory, utcnow())
    with transaction(site.factory) as s:
        closed = s.scalar(
            select(Poll.id).where(Poll.id.in_([p.poll_id for p in seeded]), Poll.closes_at < now)
        )
    assert closed is not None
    for lang in ("ru", "en"):
        context = site.browser.new_context(
            locale=lang, extra_http_headers={"Accept-Language": lang}
        )
        page = context.new_page()
        page.goto(f"{site.base}/polls/{closed}/results")
        assert page.locator("svg.choropleth-map").count() >= 1, "a district map"
        _shot(site, page, f"poll-13-demo-results-with-map-{lang}", full=True)
        page.set_viewport_size({"width": 360, "height": 740})
        page.locator("svg.choropleth-map").first.scroll_into_view_if_needed()
        _shot(site, page, f"poll-14-phone360-demo-map-{lang}")
        context.close()
    return closed
