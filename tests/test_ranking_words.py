"""The words citizens and moderators read about ranking: /ranking, "why here", the signals page.

The page must explain every sort the list accepts (taken from the list's own code, so a new sort
without an explanation fails here), name the default, and show a worked example whose orders are
those of the ranking functions; "why here" must say in plain words what the numbers mean.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from ranking import scores
from tests.a11y_support import DESKTOP, PHONE, axe_source, axe_violations
from tests.browser_support import chromium, requires_chromium, serve
from tests.helpers import PASSWORD, Browser, make_user
from tests.test_ranking_web import support
from tests.test_signal_review import plant_burst
from webapp.app import create_app
from webapp.ideas.views.api import SORTS as API_SORTS
from webapp.ideas.views.ideas import available_sorts
from webapp.kernel.search_text import search_document
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Idea
from webapp.ranking.engine import ranking_config, weight_config
from webapp.ranking.worked_example import DAY, IDEAS

EN = {"accept-language": "en"}
RU = {"accept-language": "ru"}
# Engineering words that must not reach citizens' pages (issue 14, point 4).
JARGON = (
    "априорн",
    "векторы предложений",
    "доля считается от",
    "prior of",
    "rate is counted over",
    "denominator",
)
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")


def add_idea(session_factory: Any, title: str, viewers: int = 0) -> int:
    body = f"{title}: подробное описание предложения для жителей города."
    with transaction(session_factory) as s:
        category = s.scalar(select(Category.id).where(Category.slug == "parks"))
        idea = Idea(
            title=title,
            body=body,
            category_id=category,
            search_doc=search_document(title, body),
            viewer_count=viewers,
        )
        s.add(idea)
        s.flush()
        return idea.id


def text_of(page: str) -> str:
    """The page's visible words, tags removed and spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).replace("\xa0", " ")


def why_box(page: str) -> str:
    match = re.search(r'<details class="why-rank">.*?</details>', page, re.S)
    assert match, "no why-here box on the page"
    return text_of(match.group(0))


def described_sorts(page: str) -> dict[str, str]:
    """Each sort explained on /ranking: its id and the words of its explanation."""
    found = re.findall(r'<dt id="sort-([a-z_]+)">.*?</dt>\s*<dd>(.*?)</dd>', page, re.S)
    return {sort: text_of(words).strip() for sort, words in found}


def example_orders(page: str) -> dict[str, list[str]]:
    """The worked example's table: sort -> the ideas' keys, first to last."""
    rows = re.findall(r'<tr data-sort="([a-z_]+)">(.*?)</tr>', page, re.S)
    return {sort: re.findall(r'data-key="([AB])"', row) for sort, row in rows}


# --- /ranking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_oppose", [False, True])
def test_the_ranking_page_explains_every_sort_the_list_accepts(
    settings: Settings, allow_oppose: bool
) -> None:
    configured = replace(settings, allow_oppose=allow_oppose)
    offered = set(available_sorts(configured, with_query=True))
    if allow_oppose:
        offered |= set(API_SORTS)  # the API accepts the same sorts
    with Browser(create_app(configured)) as browser:
        for headers in (EN, RU):
            described = described_sorts(browser.get("/ranking", headers=headers).text)
            assert set(described) == offered
            assert all(len(words) > 20 for words in described.values()), described


@pytest.mark.parametrize("default", ["confident", "trending", "top", "random"])
def test_the_ranking_page_names_the_default_sort(settings: Settings, default: str) -> None:
    configured = replace(settings, default_sort=default)
    labels = {
        "confident": "Most certain support",
        "trending": "Trending",
        "top": "Best supported",
        "random": "Random order (fair exposure)",
    }
    with Browser(create_app(configured)) as browser:
        page = browser.get("/ranking", headers=EN).text
        ru = browser.get("/ranking", headers=RU).text
    sentence = text_of(re.search(r'<p class="ranking-default".*?</p>', page, re.S).group(0))  # type: ignore[union-attr]
    assert f"the list of ideas is ordered by “{labels[default]}”" in sentence
    marked = re.search(rf'<dt id="sort-{default}">(.*?)</dt>', page, re.S)
    assert marked and "by default" in marked.group(1)
    assert "по умолчанию" in re.search(rf'<dt id="sort-{default}">(.*?)</dt>', ru, re.S).group(1)  # type: ignore[union-attr]
    assert "список идей упорядочен так" in text_of(ru)


def _independent_orders(settings: Settings) -> dict[str, list[str]]:
    """The example's orders straight from ranking.scores, inputs rebuilt from the example."""
    config = ranking_config(settings)
    weight = weight_config(settings).verified  # every supporter of the example is verified
    keys = [spec.key for spec in IDEAS]
    supporters = np.array([spec.supporters for spec in IDEAS], dtype=np.float64)
    support_w = supporters * weight
    viewers = np.array([spec.viewers for spec in IDEAS], dtype=np.float64)
    zero = np.zeros(len(IDEAS))
    exposure = scores.exposure(viewers, supporters)
    decayed = np.array(
        [
            sum(
                weight * 2.0 ** (-round(age * DAY) / config.half_life_s)
                for age in np.linspace(*spec.voted_days_ago, spec.supporters)
            )
            for spec in IDEAS
        ]
    )
    # okrugs: spec.okrugs okrugs share each idea's supporters evenly (one district per okrug)
    n_okrugs = max(spec.okrugs for spec in IDEAS)
    residents = np.zeros(n_okrugs)
    okrug_support = np.zeros((n_okrugs, len(IDEAS)))
    for i, spec in enumerate(IDEAS):
        for n in range(spec.supporters):
            residents[n % spec.okrugs] += 1
            okrug_support[n % spec.okrugs, i] += weight
    share = residents / residents.sum()
    values = {
        "top": scores.top_score(support_w, zero, exposure, config),
        "confident": scores.confident_score(support_w, zero, exposure, config),
        "trending": scores.trending_score(decayed, 0.0, 0.0, config),
        "broad": scores.broad_score(okrug_support, viewers, share, config),
        "new": -np.array([spec.published_days_ago for spec in IDEAS], dtype=np.float64),
        "supporters": supporters,
        "discussed": np.array([spec.comments for spec in IDEAS], dtype=np.float64),
    }
    # best first; among equal scores the later idea (higher index) first, as ranking.order does
    return {
        sort: [keys[i] for i in sorted(range(len(keys)), key=lambda i: (-v[i], -i))]
        for sort, v in values.items()
    }


def test_the_worked_example_orders_as_the_ranking_functions_do(
    browser: Browser, settings: Settings
) -> None:
    page = browser.get("/ranking", headers=EN).text
    shown = example_orders(page)
    expected = _independent_orders(settings)
    assert {s: shown[s] for s in expected} == expected
    # the example is worth showing: the default and "best supported" disagree, as the text says
    assert shown["confident"] == ["A", "B"] and shown["top"] == ["B", "A"]
    words = text_of(page)
    assert "30 people" in words and "200 people" in words and "3 people" in words
    top = scores.top_score(
        np.array([30.0, 3.0]), np.zeros(2), np.array([200.0, 5.0]), ranking_config(settings)
    )
    assert f"{top[0] * 100:.1f}%" in words and f"{top[1] * 100:.1f}%" in words
    ru = text_of(browser.get("/ranking", headers=RU).text)
    assert f"{top[0] * 100:.1f}".replace(".", ",") + " %" in ru  # numbers in the reader's locale


def test_the_worked_example_follows_the_configured_weights(settings: Settings) -> None:
    configured = replace(settings, weight_unverified=0.2, support_budget=5)
    with Browser(create_app(configured)) as browser:
        words = text_of(browser.get("/ranking", headers=EN).text)
    # 10 of A's 30 supporters unverified: 20 × 1 + 10 × 0.2 = 22
    assert "A's support would count as 22 votes instead of 30" in words
    assert "Any other account 0.2" in words
    assert "Someone who supports more than 5 ideas" in words  # one vote each: no budget cut


# --- why here -------------------------------------------------------------------------------


def test_why_here_without_recorded_viewers_says_so_in_plain_words(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Петиция, перенесённая с другого сайта")
    for i in range(3):
        support(
            session_factory,
            make_user(session_factory, f"petition{i}@example.org", verified=True),
            idea,
        )
    with Browser(app) as browser:
        en = why_box(browser.get("/?sort=confident", headers=EN).text)
        ru = why_box(browser.get(f"/ideas/{idea}", headers=RU).text)
    assert "This idea has 3 supporters." in en
    assert "We do not know how many people have seen it" in en
    assert "the more supporters, and the more of them verified residents, the higher" in en
    assert "%" not in en  # no share is claimed where readers are unknown
    assert "Идею поддержали 3 человека." in ru
    assert "Сколько человек видели идею, мы не знаем" in ru
    for word in JARGON:
        assert word not in en and word not in ru


def test_why_here_for_a_widely_seen_idea_gives_the_share_in_words(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея, которую видели многие", viewers=300)
    for i in range(12):
        support(
            session_factory, make_user(session_factory, f"wide{i}@example.org", verified=True), idea
        )
    with Browser(app) as browser:
        top_en = why_box(browser.get("/?sort=top", headers=EN).text)
        confident_en = why_box(browser.get("/?sort=confident", headers=EN).text)
        top_ru = why_box(browser.get("/?sort=top", headers=RU).text)
        confident_ru = why_box(browser.get(f"/ideas/{idea}", headers=RU).text)
    en, ru = app.state.translators["en"].number, app.state.translators["ru"].number
    top = round(app.state.ranking.explain(idea, "top")["score"] * 100, 1)
    confident = round(app.state.ranking.explain(idea, "confident")["score"] * 100, 1)
    assert "This idea has 12 supporters. 300 people have opened it." in top_en
    assert f"By our estimate, about {en(top)}% of the people who open it support it." in top_en
    assert "Few people have seen it" not in top_en  # 300 readers outweigh the neutral start
    assert (
        f"By our estimate, at least {en(confident)}% of the people who open it support it; "
        "we are 95% sure of that." in confident_en
    )
    assert "Её открыли 300 человек." in top_ru
    assert f"По нашей оценке, её поддерживают около {ru(top)} %" in top_ru
    assert "в этом мы уверены на 95 %" in confident_ru


def test_why_here_for_an_idea_few_have_seen_says_it_is_pulled_to_the_middle(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Свежая идея, которую видели немногие", viewers=6)
    support(
        session_factory, make_user(session_factory, "fresh-reader@example.org", verified=True), idea
    )
    with Browser(app) as browser:
        top = why_box(browser.get("/?sort=top", headers=EN).text)
        confident = why_box(browser.get("/?sort=confident", headers=RU).text)
    assert "6 people have opened it." in top
    assert "Few people have seen it yet, so until more people see it we pull its share" in top
    assert "about 5 in 100 readers support one" in top
    assert "Её видели пока немногие, поэтому мы оцениваем её осторожно" in confident


def test_why_here_in_the_other_orders(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея для других порядков", viewers=40)
    support(
        session_factory, make_user(session_factory, "other-orders@example.org"), idea
    )  # unverified
    with Browser(app) as browser:
        boxes = {
            s: why_box(browser.get(f"/?sort={s}", headers=EN).text)
            for s in ("trending", "broad", "new", "random")
        }
    assert "Not every vote counts in full" in boxes["trending"]  # half a vote: unverified
    assert "count as 0.5 full votes" in boxes["trending"]
    assert "a vote counts half after 3 days" in boxes["trending"]
    assert "Its recent support weighs 0.5" in boxes["trending"]
    assert "only when residents of every okrug support it" in boxes["broad"]
    assert "The most recently published ideas first." in boxes["new"]
    assert "every visitor gets their own order" in boxes["random"]


def test_citizen_pages_carry_no_engineering_words(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    seen = add_idea(session_factory, "Идея с просмотрами", viewers=50)
    unseen = add_idea(session_factory, "Идея без просмотров")
    for i, idea in enumerate((seen, unseen, seen)):
        support(session_factory, make_user(session_factory, f"jargon{i}@example.org"), idea)
    urls = ["/ranking", f"/ideas/{seen}", f"/ideas/{unseen}"]
    urls += [f"/?sort={s}" for s in available_sorts(app.state.settings, with_query=False)]
    with Browser(app) as browser:
        for url in urls:
            for headers in (EN, RU):
                words = text_of(browser.get(url, headers=headers).text)
                found = [w for w in JARGON if w in words.lower()]
                assert not found, f"{url} ({headers}): {found}"


# --- the signals page (moderators) ------------------------------------------------------------


def test_the_signals_page_is_plain_and_its_table_turns_into_cards(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея с купленными голосами")
    plant_burst(session_factory, idea)
    moderator = make_user(session_factory, "mod@example.org", role="moderator")
    with Browser(app) as browser:
        browser.login(moderator.email)
        page = browser.get("/moderation/signals", headers=RU).text
        en = browser.get("/moderation/signals", headers=EN).text
    table = re.search(
        r'<table class="table table-responsive signal-numbers">.*?</table>', page, re.S
    )
    assert table, "the numbers are not a responsive table"
    cells = re.findall(r"<td\b[^>]*>", table.group(0))
    assert cells and all("data-label=" in c for c in cells)
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table.group(0))
    labels = re.findall(r'data-label="([^"]*)"', table.group(0))
    assert [html.unescape(h) for h in headers] == [html.unescape(x) for x in labels]
    assert not SECONDS.search(text_of(page)), "a date with seconds"
    assert "Много голосов за час" in text_of(page)
    words = text_of(en)
    assert "Many votes in one hour" in words and "Latest suspicious vote" in words
    assert "lockstep" not in words.lower() and "recompute" not in words.lower()


@requires_chromium()
def test_the_ranking_and_signals_pages_fit_a_phone_and_pass_axe(settings: Settings) -> None:
    """At 360 px nothing scrolls sideways and the tables are cards; axe-core (WCAG 2.2 AA, the
    rules of tests/test_browser_a11y.py) finds nothing on a phone or a desktop, formulas open."""
    app = create_app(settings)
    factory = app.state.session_factory
    idea = add_idea(factory, "Идея с купленными голосами на телефоне")
    plant_burst(factory, idea)
    make_user(factory, "phone-mod@example.org", role="moderator")
    problems: list[str] = []
    with serve(app) as base, chromium() as browser:
        for viewport in (PHONE, DESKTOP):
            context = browser.new_context(viewport=viewport, locale="ru-RU")
            context.add_init_script(script=axe_source())
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=email]", "phone-mod@example.org")
            page.fill("input[name=password]", PASSWORD)
            page.press("input[name=password]", "Enter")
            page.wait_for_load_state()
            for url, table in (
                ("/ranking", "table.ranking-example-orders"),
                ("/moderation/signals", "table.signal-numbers"),
            ):
                page.goto(f"{base}{url}")
                if url == "/ranking":
                    page.click("details.ranking-formulas summary")
                where = f"{url} at {viewport['width']} px"
                problems += [
                    f"{where}: {v['id']} ({v['impact']}) {v['help']}: "
                    + "; ".join(str(n["target"]) for n in v["nodes"][:6])
                    for v in axe_violations(page)
                ]
                width = page.evaluate("document.scrollingElement.scrollWidth")
                if width > viewport["width"]:
                    problems.append(f"{where}: the page is {width} px wide")
                display = page.eval_on_selector(
                    f"{table} tr:last-child td", "td => getComputedStyle(td).display"
                )
                # on a phone each row is a card whose cells stack, each with its label
                if (display == "table-cell") == (viewport is PHONE):
                    problems.append(f"{where}: table cells are displayed as {display}")
            context.close()
    assert not problems, "\n".join(problems)
