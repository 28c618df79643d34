"""Re-extract the catalogs (``make messages``) and fill translations from pending JSON files.

Several people can add strings at once without editing the .po files by hand: each writes
``webapp/i18n/pending/<area>.json`` — ``{"English msgid": "Русский перевод", ...}``; for a
plural message the key is the singular msgid and the value a list of three Russian forms.
This script (run under ``flock`` so that two runs never interleave) extracts every msgid from
the code, updates ``ru`` and ``en``, and fills any empty Russian translation from the pending
files. Translations already in the catalogs are kept.

    flock /tmp/veche-i18n.lock .venv/bin/python tools/i18n_sync.py
    .venv/bin/python -m tools.i18n_sync --check   # only list what is untranslated; writes nothing
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "webapp" / "i18n"
KEYWORDS = [
    "_",
    "gettext",
    "ngettext:1,2",
    "N_",
    "add:2",
    "flash:2",
    "invalid:2",
    "NotFound",
    "Conflict",
    "PermissionDenied",
    "NotConfirmed",
    "NotAuthenticated",
    "RateLimited",
    "PayloadTooLarge",
    "DomainError",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.i18n_sync",
        description="Re-extract the message catalogs and fill Russian translations from "
        "webapp/i18n/pending/*.json (make messages).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="work on a temporary copy: list untranslated messages, change no file",
    )
    opts = parser.parse_args(argv)
    if not opts.check:
        return sync(I18N)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "i18n"
        shutil.copytree(I18N, copy)
        return sync(copy)


def sync(i18n: Path) -> int:
    """Extract into ``i18n``/messages.pot, update its catalogs, fill Russian from pending files."""
    bindir = Path(sys.executable).parent
    args = [
        str(bindir / "pybabel"),
        "extract",
        "-F",
        "babel.cfg",
        "-o",
        str(i18n / "messages.pot"),
        "--no-location",
        "--sort-output",
    ]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run([*args, "."], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [
            str(bindir / "pybabel"),
            "update",
            "-i",
            str(i18n / "messages.pot"),
            "-d",
            str(i18n),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    pending: dict[str, object] = {}
    for f in sorted((i18n / "pending").glob("*.json")):
        pending.update(json.loads(f.read_text(encoding="utf-8")))
    po = i18n / "ru" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="ru")
    missing = []
    for m in catalog:
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        empty = not all(m.string) if isinstance(m.string, tuple) else not m.string
        if not empty:
            continue
        value = pending.get(key)
        if value is None:
            missing.append(key)
        elif isinstance(m.id, tuple):
            m.string = tuple(value) if isinstance(value, list) else (value, value, value)
        else:
            m.string = value if isinstance(value, str) else value[0]
        if "fuzzy" in m.flags:
            m.flags.discard("fuzzy")
    with po.open("wb") as fh:
        write_po(fh, catalog, width=100)
    for key in missing:
        print(f"untranslated: {key!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
