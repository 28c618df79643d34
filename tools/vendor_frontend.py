"""Re-fetch the front-end code vendored for the tests: axe-core, from npm.

The accessibility tests (tests/test_browser_a11y.py) inject axe-core into every page they check.
It is kept in the repository (tests/vendor/axe-core/) so the tests never reach the network; this
script refreshes it with ``npm pack`` (npm's own client, its own integrity check), verifies the
tarball against the registry's published SHA-512, and copies ``axe.min.js`` and the licences.

    .venv/bin/python -m tools.vendor_frontend                 # the pinned version
    .venv/bin/python -m tools.vendor_frontend --version 4.15.0  # another one (updates the README)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "vendor" / "axe-core"
PACKAGE = "axe-core"
VERSION = "4.14.1"  # keep in step with tests/vendor/axe-core/README.md
FILES = ("axe.min.js", "LICENSE", "LICENSE-3RD-PARTY.txt")

README = """# axe-core {version} (vendored for the tests)

`axe.min.js` is [axe-core](https://github.com/dequelabs/axe-core) {version} by Deque Systems,
unchanged, under the Mozilla Public License 2.0 (`LICENSE`; bundled third-party notices in
`LICENSE-3RD-PARTY.txt`). The browser accessibility tests (`tests/test_browser_a11y.py`) inject
it into each page they check; nothing of it is served by the site.

Fetched from the npm registry with `npm pack {package}@{version}` by
`.venv/bin/python -m tools.vendor_frontend --version {version}`, which checks the tarball against
the registry's published integrity before copying these files:

- tarball integrity: `{integrity}`
- `axe.min.js` SHA-256: `{sha256}`

To upgrade, run the script with `--version X.Y.Z`, then the accessibility tests.
"""


def npm(*args: str, cwd: Path) -> str:
    done = subprocess.run(["npm", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def integrity_of(tarball: Path) -> str:
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def vendor(version: str, target: Path = TARGET) -> dict[str, str]:
    """Fetch ``axe-core@version`` with npm, verify it, copy its files into ``target``."""
    spec = f"{PACKAGE}@{version}"
    with tempfile.TemporaryDirectory(prefix="veche-vendor-") as tmp:
        work = Path(tmp)
        published = json.loads(npm("view", spec, "dist.integrity", "--json", cwd=work))
        packed = json.loads(npm("pack", spec, "--json", cwd=work))
        tarball = work / packed[0]["filename"]
        got = integrity_of(tarball)
        if got != published:
            raise SystemExit(f"{spec}: tarball integrity {got} != published {published}")
        with tarfile.open(tarball) as tar:
            tar.extractall(work / "x", filter="data")
        package = work / "x" / "package"
        meta = json.loads((package / "package.json").read_text())
        if meta["version"] != version or meta.get("license") != "MPL-2.0":
            raise SystemExit(f"unexpected package: {meta['version']} {meta.get('license')}")
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(package / name, target / name)
    sha256 = hashlib.sha256((target / "axe.min.js").read_bytes()).hexdigest()
    facts = {"package": PACKAGE, "version": version, "integrity": got, "sha256": sha256}
    (target / "README.md").write_text(README.format(**facts))
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=VERSION, help=f"axe-core version (default {VERSION})")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    facts = vendor(args.version, args.target)
    print(f"{facts['package']} {facts['version']} -> {args.target} (sha256 {facts['sha256']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
