"""Where an imported idea comes from: ``origin_of`` and the ``ideas/_origin.html`` partial."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette

from webapp.ideas.origins import origin_of


def test_each_demo_source_has_its_label_link_and_language() -> None:
    roi = origin_of("roi:77Р1328")
    uk = origin_of("uk_petitions:300000")
    madrid = origin_of("decide_madrid:37800")
    assert roi is not None and uk is not None and madrid is not None
    assert (roi.source, roi.language, roi.foreign, roi.url) == ("roi", "ru", False, None)
    assert "roi.ru" in roi.label
    assert (uk.language, uk.foreign) == ("en", True)
    assert uk.url == "https://petition.parliament.uk/archived/petitions/300000"
    assert (madrid.language, madrid.foreign) == ("es", True)
    assert madrid.url == "https://decide.madrid.es/proposals/37800"
    assert "UK Parliament" in uk.label and "Decide Madrid" in madrid.label


def test_only_the_citys_own_petitions_may_be_called_whole_city() -> None:
    federal, regional, municipal = (origin_of(f"roi:77{kind}1328") for kind in ("Ф", "Р", "М"))
    uk = origin_of("uk_petitions:300000")
    assert federal is not None and regional is not None and municipal is not None and uk
    assert federal.federal and federal.outside_city and "Federal" in federal.label
    assert not regional.outside_city and not municipal.outside_city
    assert uk.outside_city


@pytest.mark.parametrize(
    "ref", [None, "", "row-17", "unknown:5", "roi:", "uk_petitions: ", "crm:uk_petitions:1"]
)
def test_ideas_written_here_or_imported_otherwise_have_no_origin(ref: str | None) -> None:
    assert origin_of(ref) is None


def test_a_reference_that_is_not_a_number_gets_no_link() -> None:
    uk = origin_of("uk_petitions:<script>")
    assert uk is not None and uk.url is None


def _render(app: Starlette, language: str, ref: str | None) -> str:
    template = app.state.jinja[language].get_template("ideas/_origin.html")
    return str(template.render(idea=SimpleNamespace(external_ref=ref)))


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_partial_shows_the_label_in_the_readers_language(app: Any, language: str) -> None:
    gettext = app.state.translators[language].translations.gettext
    uk = origin_of("uk_petitions:300000")
    assert uk is not None
    html = _render(app, language, "uk_petitions:300000")
    assert gettext(uk.label) in html
    assert 'href="https://petition.parliament.uk/archived/petitions/300000"' in html
    assert 'hreflang="en"' in html and "badge-info" in html
    assert gettext("See the original") in html
    roi = origin_of("roi:77Р1328")
    assert roi is not None
    html = _render(app, language, "roi:77Р1328")
    assert gettext(roi.label) in html and "<a " not in html and "badge-info" not in html


def test_the_partial_renders_nothing_without_an_origin(app: Any) -> None:
    assert _render(app, "ru", None).strip() == ""
    assert _render(app, "en", "row-17").strip() == ""


def test_the_partial_accepts_an_object_without_a_reference(app: Any) -> None:
    template = app.state.jinja["en"].get_template("ideas/_origin.html")
    assert str(template.render(idea=SimpleNamespace(title="x"))).strip() == ""
