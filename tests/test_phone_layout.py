"""No page scrolls sideways on a 360×740 phone: every main page of every role fits its width.

The pages are those of tests/test_browser_a11y.py (tests/a11y_support.py: read from the app's
routes, for each role the pages that answer it). A page passes when
``document.scrollingElement.scrollWidth <= innerWidth``; when it does not, the failure names
the elements that stick out furthest past the right edge (their selector and right edge).

Skipped only where /usr/bin/chromium is absent, and never under CI (``CI`` set): there it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y_support import (
    PHONE,
    ROLES,
    A11yData,
    classify,
    main_pages,
    pages_of,
    role_context,
    served_site,
)
from tests.browser_support import requires_chromium
from tests.e2e_flows import Site

pytestmark = requires_chromium()

# The page's width against the viewport's, and the elements past the right edge: the outermost
# of each overflowing branch first (its own box, not a parent's), widest first.
OVERFLOW = """limit => {
  const root = document.scrollingElement;
  const width = window.innerWidth;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    [...e.classList].map(c => '.' + c).join('');
  const path = e => {
    const parts = [];
    for (let x = e; x && x !== document.body && parts.length < 4; x = x.parentElement)
      parts.unshift(name(x));
    return parts.join(' > ');
  };
  const out = [];
  if (root.scrollWidth > width) {
    for (const e of document.body.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.right <= width + 0.5) continue;
      const parent = e.parentElement;
      const pr = parent ? parent.getBoundingClientRect() : null;
      if (pr && pr.right > width + 0.5 && parent !== document.body) continue;
      out.push({element: path(e), right: Math.round(r.right), width: Math.round(r.width)});
    }
    out.sort((a, b) => b.right - a.right);
  }
  return {scrollWidth: root.scrollWidth, innerWidth: width, over: out.slice(0, limit)};
}"""


# What opens on a phone without leaving the page: the menu button and «Фильтры».
OPENED = ("summary.nav-toggle", "details.ideas-filters > summary")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, A11yData]]:
    with served_site(Path(tmp_path_factory.mktemp("phone"))) as site_and_data:
        yield site_and_data


@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_at_360_px(world: tuple[Site, A11yData], role: str) -> None:
    site, data = world
    context = role_context(site, role, viewport=PHONE)
    urls, problems = pages_of(
        classify(site, context, main_pages(site.app, data.samples, routes=data.routes))
    )
    assert urls, f"{role} has no pages"
    page: Any = context.new_page()
    wide: list[str] = []

    def measure(where: str) -> None:
        found = page.evaluate(OVERFLOW, 5)
        if found["scrollWidth"] > found["innerWidth"]:
            sticking = "; ".join(
                f"{o['element']} (right edge {o['right']} px, {o['width']} px wide)"
                for o in found["over"]
            )
            wide.append(
                f"[{role}, 360×740] {where}: page {found['scrollWidth']} px wide > "
                f"{found['innerWidth']} px — {sticking}"
            )

    try:
        for url in urls:
            page.goto(f"{site.base}{url}", wait_until="load")
            measure(url)
        for toggle in OPENED:  # the menu and the filters, opened
            page.goto(f"{site.base}/", wait_until="load")
            if page.locator(toggle).first.is_visible():
                page.locator(toggle).first.click()
                measure(f"/ with {toggle} opened")
    finally:
        context.close()
    if wide or problems:
        pytest.fail(
            f"{len(wide)} of {len(urls)} pages scroll sideways:\n"
            + "\n".join(wide + [f"[{role}] not checked, {p}" for p in problems]),
            pytrace=False,
        )
