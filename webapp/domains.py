"""The domains Veche is made of, lowest first (docs/architecture.md).

A domain may import the kernel (``webapp.kernel``) and the domains listed before it, never one
listed after it; import-linter checks this order (``pyproject.toml``). The composition root
(``webapp.app``, ``webapp.routes``, ``webapp.cli``) is the only code that sees them all.
"""

from __future__ import annotations

from pathlib import Path

from webapp.accounts import install as accounts
from webapp.campaigns import install as campaigns
from webapp.dedup import install as dedup
from webapp.kernel.hooks import Hooks
from webapp.moderation import install as moderation
from webapp.notifications import install as notifications
from webapp.officials import install as officials
from webapp.polls import install as polls

WEBAPP_DIR = Path(__file__).resolve().parent

DOMAINS: tuple[str, ...] = (
    "taxonomy",
    "notifications",
    "accounts",
    "projects",
    "ranking",
    "ideas",
    "moderation",
    "officials",
    "dedup",
    "campaigns",
    "polls",
    "reports",
    "demo",
)


def template_dirs() -> list[Path]:
    """The kernel's templates (base page, macros, error pages), then each domain's own."""
    dirs = [WEBAPP_DIR / "kernel" / "templates"]
    dirs += [
        WEBAPP_DIR / d / "templates" for d in DOMAINS if (WEBAPP_DIR / d / "templates").is_dir()
    ]
    return dirs


def build_hooks() -> Hooks:
    """Every installed domain's contributions to the pages below it (webapp/kernel/hooks.py).

    Lowest first, so a higher domain's panel comes after a lower one's on a shared page.
    """
    hooks = Hooks()
    for domain in (notifications, accounts, moderation, officials, dedup, campaigns, polls):
        domain.install(hooks)
    return hooks
