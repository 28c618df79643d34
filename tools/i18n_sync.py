"""Re-extract the catalogs (``make messages``) and fill translations from pending JSON files.

Several people can add strings at once without editing the .po files by hand: each writes
``webapp/i18n/pending/<area>.json`` — ``{"English msgid": "Русский перевод", ...}``; for a
plural message the key is the singular msgid and the value a list of three Russian forms.
This script (run under ``flock`` so that two runs never interleave) extracts every msgid from
the code, updates ``ru`` and ``en``, and fills any empty Russian translation from the pending
files. Translations already in the catalogs are kept.

    flock /tmp/veche-i18n.lock .venv/bin/python tools/i18n_sync.py
"""

from __future__ import annotations

import json
import subprocess
import sys
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


def main() -> int:
    bindir = Path(sys.executable).parent
    args = [
        str(bindir / "pybabel"),
        "extract",
        "-F",
        "babel.cfg",
        "-o",
        "webapp/i18n/messages.pot",
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
            "webapp/i18n/messages.pot",
            "-d",
            "webapp/i18n",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    pending: dict[str, object] = {}
    for f in sorted((I18N / "pending").glob("*.json")):
        pending.update(json.loads(f.read_text(encoding="utf-8")))
    po = I18N / "ru" / "LC_MESSAGES" / "messages.po"
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
