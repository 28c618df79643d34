"""What polls adds to the pages of lower domains: the home page's band "Polls for you".

The home page belongs to ideas, which sits below polls and may not import it; the page asks
``hooks.home_panels`` (webapp/kernel/hooks.py) for extra context, and this fills it in with the
open polls that ask the visitor (``webapp.polls.polls.open_polls_for``: by the visitor's
district; a visitor who is not signed in sees the whole-city ones). The band itself is drawn by
``ideas/home.html`` and draws nothing when the list is empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks
from webapp.polls.polls import open_polls_for

HOME_POLLS = 3  # cards in the band, at most


def home_polls(session: Session, viewer: CurrentUser | None) -> dict[str, Any]:
    """``home_polls``: at most HOME_POLLS open polls that ask the visitor, closing soonest first."""
    return {"home_polls": open_polls_for(session, viewer, limit=HOME_POLLS)}


def install(hooks: Hooks) -> None:
    hooks.home_panels.append(home_polls)
