"""docs/settings.md and docs/cli.md are generated (tools/gen_docs.py, `make docs`): never stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools import gen_docs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", sorted(gen_docs.TARGETS))
def test_generated_docs_are_current(name: str) -> None:
    path, render = gen_docs.TARGETS[name]
    assert path.read_text(encoding="utf-8") == render(), (
        f"{path.relative_to(ROOT)} is stale: run `make docs` and commit the result"
    )


def test_the_check_mode_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_docs.main(["--check"]) == 0, capsys.readouterr().err


def test_cli_help_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = []
    for columns in ("40", "250"):
        monkeypatch.setenv("COLUMNS", columns)
        rendered.append(gen_docs.cli_markdown())
    assert rendered[0] == rendered[1]


def test_every_command_has_a_section() -> None:
    from webapp.cli import build_parser

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for path, _ in gen_docs._walk(build_parser()):
        assert f"\n## {' '.join(('veche', *path))}\n" in text


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {gen_docs.slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", ["settings.md", "cli.md"])
def test_links_of_the_generated_pages_reach_their_headings(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([a-z_]+\.md)?(?:#([\w-]+))?\)", text)
    assert links
    for target, anchor in links:
        file = DOCS / (target or page)
        assert file.is_file(), f"{page} links to a missing {target}"
        if anchor:
            assert anchor in _anchors(file), f"{page} links to a missing #{anchor} in {file.name}"
