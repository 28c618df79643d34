"""Maps where places matter: the idea page's place (a map with JavaScript and tiles, a line of text
and a link without), the map page of placed ideas, the vendored Leaflet, the tiles' CSP."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.browser_support import chromium, requires_chromium, serve
from tests.helpers import PASSWORD, Browser, make_user
from webapp.app import STATIC_DIR, create_app
from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings, SettingsError
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, Category, District, Idea

EN = {"accept-language": "en"}
LEAFLET = STATIC_DIR / "vendor" / "leaflet"
# Tiles served by the site itself in the browser test: no network, and the CSP's 'self'.
LOCAL_TILES = "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}"


def new_idea(factory: Any, author: CurrentUser, title: str, **place: Any) -> int:
    with transaction(factory) as session:
        category = session.scalars(select(Category.id).order_by(Category.id)).first()
        data = {
            "title": title,
            "body": "Подробное описание идеи для жителей района.",
            "category_id": str(category),
            "district_id": str(place.pop("district_id", "") or ""),
        }
        idea_id = ideas_service.submit_idea(session, author, data)
        if place:
            session.execute(update(Idea).where(Idea.id == idea_id).values(**place))
        return idea_id


def some_districts(factory: Any) -> tuple[District, District]:
    """Two districts (not okrugs) of different okrugs."""
    with factory() as session:
        rows = list(session.scalars(select(District).where(District.parent_id.is_not(None))))
    first = rows[0]
    second = next(d for d in rows if d.parent_id != first.parent_id)
    return first, second


@pytest.fixture
def map_app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def factory(map_app: Starlette) -> sessionmaker[Session]:
    session_factory: sessionmaker[Session] = map_app.state.session_factory
    return session_factory


@pytest.fixture
def author(factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(factory, "author@example.org")


def test_an_idea_with_a_place_shows_its_district_coordinates_and_a_link(
    map_app: Starlette, factory: Any, author: CurrentUser
) -> None:
    district, _ = some_districts(factory)
    idea = new_idea(
        factory,
        author,
        "Пешеходный переход у школы",
        district_id=district.id,
        latitude=55.7558391,
        longitude=37.6173002,
    )
    page = Browser(map_app).get(f"/ideas/{idea}", headers=EN).text
    place = page[page.index('class="idea-place"') :]
    place = place[: place.index("</section>")]
    assert district.name_en in place
    assert "55.75584, 37.61730" in place
    assert 'href="https://www.openstreetmap.org/?mlat=55.75584&amp;mlon=37.61730' in place
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in place
    assert "© OpenStreetMap contributors" in place
    assert f'href="/map?district={district.id}">Other ideas nearby' in place
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "/static/map.js" in page


def test_an_idea_without_a_place_has_no_map(
    map_app: Starlette, factory: Any, author: CurrentUser
) -> None:
    idea = new_idea(factory, author, "Больше урн в парке")
    page = Browser(map_app).get(f"/ideas/{idea}", headers=EN).text
    assert 'class="idea-place"' not in page
    assert "leaflet.js" not in page and "map.js" not in page


def test_without_tiles_the_place_is_a_line_and_a_link_and_no_script(
    settings: Settings,
) -> None:
    app = create_app(dataclasses.replace(settings, map_tile_url=""))
    try:
        factory = app.state.session_factory
        author = make_user(factory, "author@example.org")
        idea = new_idea(factory, author, "Пешеходный переход", latitude=55.7, longitude=37.6)
        response = Browser(app).get(f"/ideas/{idea}", headers=EN)
        assert "55.70000, 37.60000" in response.text
        assert "Open on a map" in response.text
        assert "leaflet.js" not in response.text and "map.js" not in response.text
        csp = response.headers["content-security-policy"]
        assert "img-src 'self' data:;" in csp  # no outside image source at all
    finally:
        app.state.engine.dispose()


def test_the_tiles_origin_and_only_it_is_allowed_for_images(map_app: Starlette) -> None:
    csp = Browser(map_app).get("/").headers["content-security-policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in csp
    assert "script-src 'self';" in csp  # Leaflet is ours: no outside script


def test_the_tile_url_is_checked() -> None:
    with pytest.raises(SettingsError, match="VECHE_MAP_TILE_URL"):
        Settings(map_tile_url="javascript:alert(1)")
    with pytest.raises(SettingsError, match="VECHE_MAP_TILE_URL"):
        Settings(map_tile_url="https://tiles.example.org/map.png")
    with pytest.raises(SettingsError, match="VECHE_MAP_TILE_URL"):
        Settings(map_tile_url="//evil.example.org/{z}/{x}/{y}.png")
    assert Settings(map_tile_url="/tiles/{z}/{x}/{y}.png").map_tile_origin == ""
    subdomains = Settings(map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert subdomains.map_tile_origin == "https://*.tiles.example.org"


def test_the_map_page_lists_public_placed_ideas_of_the_chosen_district(
    map_app: Starlette, factory: Any, author: CurrentUser
) -> None:
    here, there = some_districts(factory)
    near = new_idea(
        factory, author, "Сквер у метро", district_id=here.id, latitude=55.7, longitude=37.6
    )
    far = new_idea(
        factory, author, "Каток во дворе", district_id=there.id, latitude=55.8, longitude=37.5
    )
    unplaced = new_idea(factory, author, "Лавочки повсюду", district_id=here.id)
    hidden = new_idea(
        factory, author, "Скрытая идея", district_id=here.id, latitude=55.7, longitude=37.6
    )
    with transaction(factory) as session:
        session.execute(update(Idea).where(Idea.id == hidden).values(status="hidden"))
    browser = Browser(map_app)

    response = browser.get("/map", headers=EN)
    assert response.status_code == 200
    links = set(re.findall(r'<a href="/ideas/(\d+)"', response.text))
    assert links == {str(near), str(far)}
    assert 'data-lat="55.70000" data-lon="37.60000"' in response.text
    assert "2 ideas with a place" in response.text

    page = browser.get(f"/map?district={here.id}", headers=EN).text
    assert set(re.findall(r'<a href="/ideas/(\d+)"', page)) == {str(near)}
    assert str(unplaced) not in re.findall(r'<a href="/ideas/(\d+)"', page)
    # an okrug shows the ideas of its districts
    page = browser.get(f"/map?district={there.parent_id}", headers=EN).text
    assert set(re.findall(r'<a href="/ideas/(\d+)"', page)) == {str(far)}
    # nonsense is the whole city, never an error
    for junk in ("abc", "99999999999", "-1"):
        assert browser.get(f"/map?district={junk}", headers=EN).status_code == 200


def test_the_map_page_without_placed_ideas_says_so(map_app: Starlette) -> None:
    page = Browser(map_app).get("/map", headers=EN).text
    assert "No ideas with a place here yet." in page
    assert "leaflet.js" not in page


def test_leaflet_is_vendored_with_its_licence_and_served_by_the_site(
    map_app: Starlette,
) -> None:
    for name in ("leaflet.js", "leaflet.css", "LICENSE", "images/marker-icon.png"):
        assert (LEAFLET / name).is_file(), name
    licence = (LEAFLET / "LICENSE").read_text()
    assert "BSD 2-Clause" in licence and "Agafonkin" in licence
    assert "Leaflet 1.9.4" in (LEAFLET / "leaflet.js").read_text()[:200]
    browser = Browser(map_app)
    for path in ("leaflet.js", "leaflet.css", "images/marker-icon.png"):
        assert browser.get(f"/static/vendor/leaflet/{path}").status_code == 200
    assert browser.get("/static/map.js").status_code == 200


@requires_chromium()
def test_the_browser_draws_a_marker_where_the_idea_is(settings: Settings, tmp_path: Path) -> None:
    local = dataclasses.replace(settings, map_tile_url=LOCAL_TILES, map_attribution="<b>x</b> & co")
    app = create_app(local)
    factory = app.state.session_factory
    author = make_user(factory, "author@example.org")
    idea = new_idea(factory, author, "Пешеходный переход у школы", latitude=55.75, longitude=37.61)
    with serve(app) as url, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/ideas/{idea}")
        page.wait_for_selector(".leaflet-marker-icon", timeout=10_000)
        marker = page.locator(".leaflet-marker-icon")
        assert marker.count() == 1
        assert marker.get_attribute("alt") == "Пешеходный переход у школы"
        assert page.locator(".leaflet-tile-loaded").count() > 0
        # the attribution is shown as text, never as markup
        credit = page.locator(".leaflet-control-attribution a", has_text="<b>x</b> & co")
        assert credit.get_attribute("href") == "https://www.openstreetmap.org/copyright"
        # tile servers learn the site's origin (OpenStreetMap's policy), never the page's path
        policy = page.evaluate("() => document.querySelector('img.leaflet-tile').referrerPolicy")
        assert policy == "strict-origin-when-cross-origin"
        # the text line stays under the map
        assert page.locator(".map-fallback").is_visible()
        assert not [e for e in errors if "Content Security Policy" in e], errors

        page.goto(f"{url}/map")
        page.wait_for_selector(".leaflet-marker-icon", timeout=10_000)
        page.locator(".leaflet-marker-icon").first.click()
        link = page.locator(".leaflet-popup-content a")
        assert link.inner_text() == "Пешеходный переход у школы"
        assert link.get_attribute("href") == f"/ideas/{idea}"


# --- the place form ---------------------------------------------------------------------------


def idea_point(factory: Any, idea_id: int) -> tuple[float | None, float | None]:
    with factory() as session:
        idea = session.get_one(Idea, idea_id)
        return idea.latitude, idea.longitude


def test_the_author_puts_the_idea_on_the_map_and_takes_it_off(
    map_app: Starlette, factory: Any, author: CurrentUser
) -> None:
    idea = new_idea(factory, author, "Пешеходный переход у школы")
    browser = Browser(map_app)
    browser.login("author@example.org")
    page = browser.get(f"/ideas/{idea}", headers=EN).text
    assert f'href="/ideas/{idea}/place">Mark the place on the map' in page

    form = browser.get(f"/ideas/{idea}/place", headers=EN)
    assert form.status_code == 200 and 'name="latitude"' in form.text
    # a decimal comma and a degree sign, as people copy them from map sites
    response = browser.submit(
        f"/ideas/{idea}/place", {"latitude": "55,755826°", "longitude": " 37.6173 "}
    )
    assert response.status_code == 303
    assert idea_point(factory, idea) == (55.755826, 37.6173)
    page = browser.get(f"/ideas/{idea}", headers=EN).text
    assert "55.75583, 37.61730" in page and "Change the place on the map" in page

    assert browser.submit(f"/ideas/{idea}/place", {"remove": "1"}).status_code == 303
    assert idea_point(factory, idea) == (None, None)


@pytest.mark.parametrize(
    ("latitude", "longitude", "wrong"),
    [
        ("91", "37.6", {"latitude"}),
        ("55.7", "-181", {"longitude"}),
        ("abc", "nan", {"latitude", "longitude"}),
        ("55.7", "", {"longitude"}),
        ("inf", "37.6", {"latitude"}),
    ],
)
def test_a_place_out_of_range_is_refused_with_the_form_again(
    map_app: Starlette,
    factory: Any,
    author: CurrentUser,
    latitude: str,
    longitude: str,
    wrong: set[str],
) -> None:
    idea = new_idea(factory, author, "Пешеходный переход у школы")
    browser = Browser(map_app)
    browser.login("author@example.org")
    response = browser.submit(
        f"/ideas/{idea}/place", {"latitude": latitude, "longitude": longitude}, headers=EN
    )
    assert response.status_code == 422
    assert set(re.findall(r'id="(\w+)-error"', response.text)) == wrong
    assert idea_point(factory, idea) == (None, None)


def test_only_the_author_or_a_moderator_may_place_an_idea(
    map_app: Starlette, factory: Any, author: CurrentUser
) -> None:
    idea = new_idea(factory, author, "Пешеходный переход у школы")
    make_user(factory, "other@example.org")
    make_user(factory, "mod@example.org", role="moderator")
    point = {"latitude": "55.7", "longitude": "37.6"}

    assert Browser(map_app).get(f"/ideas/{idea}/place").status_code == 303  # to the login
    other = Browser(map_app)
    other.login("other@example.org")
    assert other.get(f"/ideas/{idea}/place").status_code == 403
    assert other.submit(f"/ideas/{idea}/place", point).status_code == 403
    assert "Mark the place on the map" not in other.get(f"/ideas/{idea}", headers=EN).text
    author_browser = Browser(map_app)
    author_browser.login("author@example.org")
    assert author_browser.post(f"/ideas/{idea}/place", data=point).status_code == 403  # no CSRF
    assert idea_point(factory, idea) == (None, None)

    moderator = Browser(map_app)
    moderator.login("mod@example.org")
    assert moderator.submit(f"/ideas/{idea}/place", point).status_code == 303
    assert idea_point(factory, idea) == (55.7, 37.6)
    with factory() as session:
        actions = list(session.scalars(select(AuditLog.action).where(AuditLog.target_id == idea)))
    assert actions == ["idea.place"]


@requires_chromium()
def test_a_click_on_the_map_fills_in_the_place(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, map_tile_url=LOCAL_TILES))
    factory = app.state.session_factory
    author = make_user(factory, "author@example.org")
    idea = new_idea(factory, author, "Пешеходный переход у школы")
    with serve(app) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{url}/login")
        page.fill("#email", "author@example.org")
        page.fill("#password", PASSWORD)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
        page.goto(f"{url}/ideas/{idea}/place")
        page.wait_for_selector(".map-canvas .leaflet-tile-loaded", timeout=10_000)
        page.locator(".map-canvas").click(position={"x": 200, "y": 150})
        latitude = page.input_value("#place-latitude")
        longitude = page.input_value("#place-longitude")
        assert 55.0 < float(latitude) < 56.5 and 37.0 < float(longitude) < 38.3
        assert page.locator(".map-canvas .leaflet-marker-icon").count() == 1
        page.locator("form.place-form button[type=submit]").first.click()
        page.wait_for_url(f"{url}/ideas/{idea}")
    assert idea_point(factory, idea) == (float(latitude), float(longitude))
