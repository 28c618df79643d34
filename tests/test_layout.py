"""The layout by domain holds: no import hides a cycle, every domain is wired, the route
convertor leaves Starlette's own alone (docs/architecture.md, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest
from starlette.convertors import CONVERTOR_TYPES, IntegerConvertor
from starlette.routing import Route

from webapp.domains import DOMAINS, WEBAPP_DIR
from webapp.kernel.routing import MAX_ID, IdConvertor

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("webapp", "ranking", "ml")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: -node.level]
    return ".".join([*base, node.module] if node.module else base)


def function_level_imports() -> list[tuple[str, int, str]]:
    """(module, line, imported module) for every first-party import inside a function."""
    found = []
    for package in FIRST_PARTY:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import):
                        targets = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom):
                        base = _resolve(module, node)
                        # `from pkg import submodule` imports the submodule
                        targets = [f"{base}.{a.name}" for a in node.names] + [base]
                    else:
                        continue
                    for target in targets:
                        if target.split(".")[0] in FIRST_PARTY:
                            found.append((module, node.lineno, target))
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*FIRST_PARTY)


def test_no_function_level_import_dodges_a_cycle(graph: grimp.ImportGraph) -> None:
    """A first-party import inside a function is allowed only where moving it to the top of the
    module would not close a cycle (start-up cost: the CLI loads the app and the model lazily)."""
    dodges = []
    for module, line, target in function_level_imports():
        if target not in graph.modules:
            continue  # `from pkg import name` where name is not a module
        if graph.find_shortest_chain(importer=target, imported=module) is not None:
            dodges.append(f"{module}:{line} imports {target} inside a function: a cycle")
    assert dodges == []


def test_the_cycle_check_finds_a_dodged_cycle(tmp_path: Path) -> None:
    """The check above can fail: two modules importing each other, one from a function."""
    pkg = tmp_path / "cyclic_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_demo import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic_demo import a\n    return a\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        g = grimp.build_graph("cyclic_demo", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    # grimp sees the function-level import too, so hoisting it would make a -> b -> a
    assert g.find_shortest_chain(importer="cyclic_demo.a", imported="cyclic_demo.b") is not None
    assert g.find_shortest_chain(importer="cyclic_demo.b", imported="cyclic_demo.a") is not None


def test_every_domain_is_a_package_in_the_import_contract() -> None:
    """A domain listed in webapp/domains.py is a package and has its place in the layers
    contract of pyproject.toml (a new domain cannot skip the import rules)."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for domain in DOMAINS:
        assert (WEBAPP_DIR / domain / "__init__.py").is_file(), domain
        assert f'"webapp.{domain}",' in pyproject, f"webapp.{domain} is not in the layers contract"
    packages = {
        p.name for p in WEBAPP_DIR.iterdir() if (p / "__init__.py").is_file() and p.name != "i18n"
    }
    assert packages - {"kernel"} == set(DOMAINS)


def test_use_cases_are_not_in_views_and_views_are_in_views() -> None:
    """HTTP code of a domain lives in its views/ package (and routes.py, install.py)."""
    misplaced = []
    for domain in DOMAINS:
        for path in (WEBAPP_DIR / domain).glob("*.py"):
            if path.name in ("routes.py", "install.py", "__init__.py"):
                continue
            text = path.read_text(encoding="utf-8")
            if "from starlette" in text or "import jinja2" in text:
                misplaced.append(str(path.relative_to(ROOT)))
    assert misplaced == []


def test_ids_in_paths_use_their_own_convertor() -> None:
    """``{id:id}`` matches database ids only; Starlette's ``int`` is left as Starlette made it."""
    assert type(CONVERTOR_TYPES["int"]) is IntegerConvertor
    assert isinstance(CONVERTOR_TYPES["id"], IdConvertor)
    route = Route("/ideas/{idea_id:id}", lambda r: None)
    assert route.path_regex.match(f"/ideas/{MAX_ID}")
    assert not route.path_regex.match(f"/ideas/{MAX_ID + 1}")
    plain = Route("/things/{n:int}", lambda r: None)
    assert plain.path_regex.match(f"/things/{10**30}")


def test_a_domain_uses_other_domains_use_cases_never_their_views(graph: grimp.ImportGraph) -> None:
    """Views are a domain's own; another domain reaches it through its use-cases or a hook."""
    crossing = []
    for domain in DOMAINS:
        for module in graph.find_descendants(f"webapp.{domain}"):
            for imported in graph.find_modules_directly_imported_by(module):
                parts = imported.split(".")
                if (
                    len(parts) > 2
                    and parts[0] == "webapp"
                    and parts[1] in DOMAINS
                    and parts[1] != domain
                    and parts[2] == "views"
                ):
                    crossing.append(f"{module} -> {imported}")
    assert crossing == []
