"""Screenshots of the end-to-end flows (``make screenshots``): one PNG per step, per language.

Runs the flows of tests/test_e2e_browser.py (tests/e2e_flows.py, tests/e2e_access.py) against
a throw-away migrated SQLite database served by uvicorn, in Debian's headless Chromium, and
saves 1280x800 PNGs with stable names into the folder given (docs/screenshots by default).

    .venv/bin/python -m tools.screenshots --out docs/screenshots
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
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
    from tests.similar_support import similar_app
    from webapp.kernel.settings import Settings
    from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
    from webapp.kernel.storage.migrate import upgrade
    from webapp.taxonomy import taxonomy

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    started = time.monotonic()
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
            citizen_registers_types_and_supports_instead(site)
            moderator_merges_a_duplicate_group(site)
            official_answers_the_strongest(site)
            keyboard_only(site)
            ids = plant_tour_data(site)
            for lang in ("ru", "en"):
                problems = {k: v for k, v in tour_pages(site, lang, ids).items() if v}
                if problems:
                    print(f"{lang}: {problems}", file=sys.stderr)
                    return 1
    shots = sorted(out.glob("*.png"))
    size = sum(p.stat().st_size for p in shots)
    print(
        f"{len(shots)} screenshots, {size / 1e6:.1f} MB, in {out} ({time.monotonic() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
