"""CPU time of a cached search by meaning (``SimilarityService.like``), in whichever tree runs it.

Run from a checkout's root with that checkout's Python: it builds the 1,000-idea SQLite corpus of
``bench/cost_bounds.py``, warms the cache, times ``N`` cached searches and prints the median
process CPU time. ``bench/before_after.py``'s cost run takes 5 repetitions, too few for a ~12 ms
figure on a busy machine; this probe takes hundreds, alternated between two trees:

    for i in 1 2 3 4 5; do
      (cd /tmp/veche-88ccc40 && /tmp/venv-88ccc40/bin/python /work/main/bench/cached_search_probe.py 300)
      (cd /work/main && .venv/bin/python bench/cached_search_probe.py 300)
    done

A second argument (any) prints a cProfile of 100 more searches. Works on the layout before issue 13
(``webapp.services.similarity``) and after it (``webapp.dedup.engine``).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    sys.path.insert(0, ".")
    from bench.cost_bounds import QUERY, build
    from ml.finder import DuplicateFinder

    mods: Any
    try:
        from webapp.dedup.engine import SimilarityService
        from webapp.dedup.views.similar import LIKE_WINDOW
        from webapp.kernel.settings import Settings
        from webapp.kernel.storage import db as mods

        side = "after"
    except ImportError:  # the layout before issue 13
        from webapp.services.similarity import SimilarityService  # type: ignore[no-redef]
        from webapp.settings import Settings  # type: ignore[no-redef]
        from webapp.storage import db as mods  # type: ignore[no-redef]
        from webapp.views.similar import LIKE_WINDOW  # type: ignore[no-redef]

        side = "before"
    reps = int(argv[0]) if argv else 200
    finder = DuplicateFinder.load()
    finder.embed(["warm-up"])
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp) / "t.db", 1000, None, finder.identity, finder.dim)
        settings = replace(Settings(), database_url=url, environment="development")
        engine = mods.make_engine(settings)
        factory = mods.make_session_factory(engine)
        svc = SimilarityService(settings, factory, finder=finder)
        svc.load()

        def like() -> None:
            with factory() as s:
                svc.like(s, QUERY, limit=LIKE_WINDOW, offset=0)

        for _ in range(20):
            like()
        cpus = []
        for _ in range(reps):
            c = time.process_time()
            like()
            cpus.append(time.process_time() - c)
        cpus.sort()
        print(
            f"{side}: cached search by meaning, median CPU {1000 * statistics.median(cpus):.2f} ms,"
            f" 10th percentile {1000 * cpus[len(cpus) // 10]:.2f} ms ({reps} searches)",
            flush=True,
        )
        if len(argv) > 1:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(100):
                like()
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
