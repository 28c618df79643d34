"""Screenshots of the end-to-end flows (``make screenshots``): one PNG per step, per language.

Runs the flows of tests/test_e2e_browser.py (tests/e2e_flows.py, tests/e2e_access.py) against
a throw-away migrated SQLite database served by uvicorn, in Debian's headless Chromium, and
saves 1280x800 PNGs with stable names into the folder given (docs/screenshots by default).
The city poll (tests/e2e_poll.py) runs in Russian and in English (``poll-…``: desktop shots
and the resident's pages on a 360x740 phone); ``--polls-only`` runs just that flow and keeps
the other shots. Then, on a second database with the data set of the accessibility tests
(tests/a11y_support.py: every role, every status, a photo, places on the map, a duplicate
group), the main pages on a 360x740 phone, in Russian (``40-…`` to ``59-…``).

A phone shot whose page part is missing (a button, a panel not built yet) is not taken; the run
lists them at the end and, with ``--strict``, fails.

    .venv/bin/python -m tools.screenshots --out docs/screenshots
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--phone-only", action="store_true", help="only the phone shots (the others are kept)"
    )
    parser.add_argument("--strict", action="store_true", help="fail when a phone shot is missing")
    parser.add_argument(
        "--polls-only",
        action="store_true",
        help="only the city poll's shots, poll-*.png (the others are kept)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    from tests.browser_support import chromium, serve
    from tests.e2e_access import keyboard_only, plant_tour_data, tour_pages
    from tests.e2e_flows import (
        Site,
        citizen_registers_types_and_supports_instead,
        moderator_merges_a_duplicate_group,
        official_answers_the_strongest,
    )
    from tests.e2e_poll import city_poll_end_to_end, demo_poll_results_with_maps
    from tests.e2e_project import city_runs_a_budget_project, real_budget_pages
    from tests.similar_support import similar_app
    from webapp.kernel.settings import Settings
    from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
    from webapp.kernel.storage.migrate import upgrade
    from webapp.taxonomy import taxonomy

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    stale = "*-phone-*.png" if args.phone_only else "poll-*.png" if args.polls_only else "*.png"
    for old in out.glob(stale):
        old.unlink()
    started = time.monotonic()
    if not args.phone_only:
        with tempfile.TemporaryDirectory(prefix="veche-shots-") as tmp:
            settings = Settings(
                database_url=f"sqlite:///{Path(tmp) / 'shots.db'}",
                environment="test",
                secret_key="screenshots-secret-key-that-is-long-enough-0123",
                login_rate_limit=10_000,
                write_rate_limit=10_000,
                similar_rate_limit=10_000,
            )
            upgrade(settings.database_url)
            engine = make_engine(settings)
            with transaction(make_session_factory(engine)) as session:
                taxonomy.load_categories(session)
                taxonomy.load_districts(session)
            engine.dispose()
            app = similar_app(settings)
            with serve(app) as base, chromium() as browser:
                site = Site(app, base, browser, shots=out)
                if args.polls_only:
                    for lang in ("ru", "en"):
                        city_poll_end_to_end(site, lang)
                    demo_poll_results_with_maps(site)
                    return _summary(out, started)
                citizen_registers_types_and_supports_instead(site)
                moderator_merges_a_duplicate_group(site)
                official_answers_the_strongest(site)
                city_runs_a_budget_project(site)
                real_budget_pages(site)
                for lang in ("ru", "en"):
                    city_poll_end_to_end(site, lang)
                demo_poll_results_with_maps(site)
                keyboard_only(site)
                ids = plant_tour_data(site)
                for lang in ("ru", "en"):
                    problems = {k: v for k, v in tour_pages(site, lang, ids).items() if v}
                    if problems:
                        print(f"{lang}: {problems}", file=sys.stderr)
                        return 1
    with tempfile.TemporaryDirectory(prefix="veche-phone-shots-") as tmp:
        missing = phone_shots(Path(tmp), out)
    for name in missing:
        print(f"not captured: {name}", file=sys.stderr)
    if missing and args.strict:
        return 1
    return _summary(out, started)


def _summary(out: Path, started: float) -> int:
    shots = sorted(out.glob("*.png"))
    size = sum(p.stat().st_size for p in shots)
    print(
        f"{len(shots)} screenshots, {size / 1e6:.1f} MB, in {out} ({time.monotonic() - started:.0f} s)"
    )
    return 0


def phone_shots(folder: Path, out: Path) -> list[str]:
    """The main pages of each role on a 360x740 phone, in Russian; the names of shots not taken."""
    from tests.a11y_support import PHONE, role_context, served_site
    from tests.e2e_flows import Site
    from tests.similar_support import TYPED

    missing: list[str] = []

    def shot(page: Any, name: str, site: Site, part: str | None = None) -> None:
        """Save ``name``; with ``part`` (a selector), only when it is on the page, scrolled to."""
        if part is not None:
            found = page.locator(part).first
            if not found.count() or not found.is_visible():
                missing.append(f"{name} (no visible {part})")
                return
            found.evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -16); }")
        site.shot(page, name)

    with served_site(folder, shots=out) as (site, data):
        ideas = data.ideas

        def visit(role: str, steps: list[tuple[str, str, Any]]) -> None:
            context = role_context(site, role, viewport=PHONE)
            page = context.new_page()
            for name, url, act in steps:
                page.goto(f"{site.base}{url}")
                act(page, name)
            context.close()

        def plain(part: str | None = None) -> Any:
            return lambda page, name: shot(page, name, site, part)

        def opened(summary: str, part: str) -> Any:
            def act(page: Any, name: str) -> None:
                toggle = page.locator(summary).first
                if not toggle.count() or not toggle.is_visible():
                    missing.append(f"{name} (no visible {summary})")
                    return
                toggle.click()
                shot(page, name, site, part)

            return act

        def typing(page: Any, name: str) -> None:
            page.locator("#title").press_sequentially(TYPED[0], delay=40)
            page.locator("#body").press_sequentially(TYPED[1][:40], delay=20)
            panel = page.locator("[data-similar-region] [data-similar-id]").first
            try:
                panel.wait_for(state="visible", timeout=15_000)
            except Exception:  # noqa: BLE001 - a shot missing is listed, not fatal
                missing.append(f"{name} (no similar ideas while typing)")
                return
            page.locator("#title").scroll_into_view_if_needed()
            site.shot(page, name)

        def merge_and_undo(page: Any, name: str) -> None:
            form = page.locator("form[action$='/merge']").first
            if not form.count():
                missing.append(f"{name} (no merge form on /moderation/duplicates)")
                return
            reason = form.locator("textarea[name=reason], input[name=reason]").first
            if reason.count():
                reason.fill("Одна и та же велодорожка на Тверской.")
            form.locator("button[type=submit]").last.click()
            page.wait_for_load_state()
            shot(page, name, site, ":is(section, div):has(> form[action$='/unmerge'])")

        visit(
            "anonymous",
            [
                ("40-phone-home-ru", "/", plain()),
                ("40-phone-home-answers-ru", "/", plain(".home-answers")),
                ("41-phone-menu-ru", "/", opened("summary.nav-toggle", "#site-nav")),
                ("42-phone-filters-ru", "/", opened("details.ideas-filters > summary", ".filters")),
                (
                    "43-phone-idea-photo-ru",
                    f"/ideas/{ideas['embankment']}",
                    plain("#photos"),
                ),
                ("44-phone-idea-answered-ru", f"/ideas/{ideas['rink']}", plain(".official-info")),
                ("45-phone-map-ru", "/map", plain("[data-map]")),
                ("46-phone-ranking-ru", "/ranking", plain()),
                ("47-phone-login-ru", "/login", plain()),
            ],
        )
        visit(
            "citizen",
            [
                ("48-phone-new-idea-similar-ru", "/ideas/new", typing),
                ("49-phone-notifications-ru", "/notifications", plain()),
                ("50-phone-my-ideas-ru", "/my/ideas", plain()),
            ],
        )
        visit(
            "moderator",
            [
                ("51-phone-moderation-reports-ru", "/moderation/reports", plain()),
                ("52-phone-duplicates-ru", "/moderation/duplicates", plain()),
                ("53-phone-merge-undo-ru", "/moderation/duplicates", merge_and_undo),
                ("54-phone-merge-history-ru", "/moderation/merges", plain()),
            ],
        )
        visit(
            "official",
            [
                ("55-phone-officials-ru", "/officials", plain()),
                ("56-phone-official-idea-ru", f"/officials/ideas/{ideas['english']}", plain()),
            ],
        )
        visit(
            "admin",
            [
                ("57-phone-districts-ru", "/admin/districts", plain()),
                ("58-phone-audit-ru", "/admin/audit", plain()),
            ],
        )
    return missing


if __name__ == "__main__":
    raise SystemExit(main())
