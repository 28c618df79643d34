"""E-mail wording: the e-mail templates rendered in the recipient's language.

The site's Jinja environments (one per language, each with its gettext catalog installed:
``webapp.app.build_jinja``) escape HTML everywhere. An e-mail's HTML part is rendered by them as
any page is; its subject and plain-text part by an overlay of each — same loader, catalog,
filters and globals — that does not escape (``&`` stays ``&``; nothing rendered that way is ever
shown as HTML). The templates are named ``*.html`` even when they are plain text, so that
``make messages`` (babel.cfg) extracts their messages.

The composition root gives an :class:`EmailTemplates` to the Mailer::

    Mailer(settings, factory, translators, path_for, templates=EmailTemplates(jinja))

which renders notifications (``notifications/email/``) and account e-mails
(``accounts/email/``, ``webapp.accounts.account_mail``) through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

TEXT_CACHE_SIZE = 50  # the few e-mail templates (and the macros they import), per language


class EmailTemplates:
    """Renders e-mail templates by name, in one of the site's languages."""

    def __init__(self, jinja: Mapping[str, jinja2.Environment]) -> None:
        self._html = dict(jinja)
        # An overlay compiles its own templates (its own cache): the same file rendered as text
        # is never taken from the escaping environment's cache, nor the other way round.
        self._text = {
            lang: env.overlay(autoescape=False, cache_size=TEXT_CACHE_SIZE)
            for lang, env in jinja.items()
        }

    def text(self, language: str, name: str, /, **context: Any) -> str:
        """A subject or a plain-text part: the template rendered without HTML escaping."""
        return self._text[language].get_template(name).render(context)

    def html(self, language: str, name: str, /, **context: Any) -> str:
        """An HTML part: the template rendered with HTML escaping, like a page."""
        return self._html[language].get_template(name).render(context)
