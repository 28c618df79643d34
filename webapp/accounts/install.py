"""What accounts adds to the pages of other domains: who the caller is."""

from __future__ import annotations

from webapp.accounts.views.identity import identify
from webapp.kernel.hooks import Hooks


def install(hooks: Hooks) -> None:
    hooks.identify = identify
