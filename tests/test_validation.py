"""Input cleaning shared by every form and API (webapp/kernel/validation.py, docs/security.md)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import Browser, make_user
from webapp.accounts import api_tokens
from webapp.kernel.errors import InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category
from webapp.kernel.validation import EMAIL_RE, Errors, clean_text, mixed_script_word


def clean(value: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    errors = Errors()
    text = clean_text(errors, "f", value, min_length=0, max_length=500, **kwargs)
    return text, errors.errors


@pytest.mark.parametrize(
    "bad",
    [
        "a\x00b",  # NUL
        "a\x1bb",  # escape
        "a\x85b",  # C1 control (NEL): what cp1252 mojibake leaves behind (found by fuzzing)
        "a\x9fb",
        "a\u202eb",  # right-to-left override
        "a\u2067b",  # right-to-left isolate
        "a\u200fb",  # right-to-left mark
        "a\u061cb",  # Arabic letter mark
    ],
)
def test_control_and_bidi_characters_are_refused(bad: str) -> None:
    _, errors = clean(bad)
    assert errors["f"][0] == "Contains control or direction-override characters."


@pytest.mark.parametrize("bad", ["a\ud800b", "a\ufffdb"])
def test_text_that_was_not_utf8_is_refused(bad: str) -> None:
    _, errors = clean(bad)
    assert errors["f"][0] == "Contains invalid characters (the text is not valid UTF-8)."


def test_invisible_characters_are_removed_and_tabs_newlines_and_joiners_kept() -> None:
    assert clean("Па\u200bрк\u2060 Го\u00adрь\ufeffкого") == ("Парк Горького", {})
    assert clean("строка 1\r\n\tстрока 2", multiline=True) == ("строка 1\n\tстрока 2", {})
    assert clean("семья 👩\u200d👩\u200d👧") == ("семья 👩\u200d👩\u200d👧", {})


@pytest.mark.parametrize(
    "title",
    [
        "Wi-Fi в парке",
        "ул. Тверская, д. 7А",  # Cyrillic А after a digit
        "д. 7A",  # Latin A after a digit
        "Яндекс.Go и МЦК",
        "iPhone-ы в метро",
        "Café Пушкинъ",
        "XIX век",
        "Ελληνικά и русский",
    ],
)
def test_legitimate_mixed_language_titles_are_accepted(title: str) -> None:
    assert mixed_script_word(title) is None
    assert clean(title, one_script_words=True) == (title, {})


@pytest.mark.parametrize(
    ("title", "word"),
    [
        ("Пaрк Гoрькoгo", "Пaрк"),  # Latin a in a Cyrillic word
        ("Mосква", "Mосква"),  # Cyrillic о, с, к, в after a Latin M
        ("Аdmin", "Аdmin"),  # Cyrillic А: a name passed off as another
        ("Αθήνα и Aθήνα", "Aθήνα"),  # Latin A in a Greek word
    ],
)
def test_words_mixing_alphabets_are_refused_in_titles_with_the_word_named(
    title: str, word: str
) -> None:
    _, errors = clean(title, one_script_words=True)
    message, params = errors["f"]
    assert "mixes letters of different alphabets" in message
    assert params == {"word": word}
    assert clean(title) == (title, {})  # bodies and comments are not checked


def test_the_mixed_alphabet_message_is_localised(app: Any, browser: Browser, citizen: Any) -> None:
    browser.login(citizen.email)
    with transaction(app.state.session_factory) as s:
        category = s.scalar(select(Category.id))
    response = browser.submit(
        "/ideas/new",
        {
            "title": "Ремонт в пaрке",
            "body": "Отремонтировать дорожки и скамейки в парке у пруда.",
            "category_id": str(category),
            "confirm_similar": "1",
        },
    )
    assert response.status_code == 422
    assert "В слове «пaрке» смешаны буквы разных алфавитов" in response.text


def test_forms_in_another_encoding_are_refused_whole_and_nothing_is_stored(
    app: Any, browser: Browser, citizen: Any
) -> None:
    """A form typed in cp1251 is neither stored as U+FFFD (urlencoded) nor as Latin-1 mojibake
    (multipart): it is refused with a message in the visitor's language."""
    from webapp.kernel.storage.models import Idea

    browser.login(citizen.email)
    with transaction(app.state.session_factory) as s:
        category = s.scalar(select(Category.id))
    token = browser.csrf()
    title, body = "Ремонт в парке".encode("cp1251"), "Отремонтировать дорожки.".encode("cp1251")
    fields = {"csrf_token": token, "category_id": str(category), "confirm_similar": "1"}
    urlencoded = (
        b"title="
        + urllib.parse.quote_from_bytes(title).encode()
        + b"&body="
        + urllib.parse.quote_from_bytes(body).encode()
        + b"&"
        + urllib.parse.urlencode(fields).encode()
    )
    raw = b"title=" + title + b"&body=" + body + b"&" + urllib.parse.urlencode(fields).encode()
    parts = [(name.encode(), value.encode()) for name, value in fields.items()]
    parts += [(b"title", title), (b"body", body)]
    multipart = (
        b"".join(
            b'--XyZ\r\nContent-Disposition: form-data; name="'
            + name
            + b'"\r\n\r\n'
            + value
            + b"\r\n"
            for name, value in parts
        )
        + b"--XyZ--\r\n"
    )
    for content, ctype in (
        (urlencoded, "application/x-www-form-urlencoded"),
        (raw, "application/x-www-form-urlencoded"),
        (multipart, "multipart/form-data; boundary=XyZ"),
    ):
        response = browser.post("/ideas/new", content=content, headers={"content-type": ctype})
        assert response.status_code == 400, (ctype, response.status_code)
        assert "Форма содержит текст в неизвестной кодировке" in response.text
    with transaction(app.state.session_factory) as s:
        assert s.scalar(select(Idea.id)) is None
    # the same form in UTF-8 goes through
    good = browser.submit(
        "/ideas/new",
        {
            "title": "Ремонт в парке",
            "body": "Отремонтировать дорожки и скамейки в парке.",
            "category_id": str(category),
            "confirm_similar": "1",
        },
    )
    assert good.status_code == 303


@pytest.mark.parametrize(
    "email",
    ["a\x00@example.org", "a\u202e@example.org", "a\u200b@example.org", "a@exa\x85mple.org"],
)
def test_emails_with_control_or_invisible_characters_are_refused(email: str) -> None:
    assert EMAIL_RE.match(email) is None


def test_unicode_emails_are_still_accepted() -> None:
    assert EMAIL_RE.match("пример@почта.рф")


def test_display_names_mixing_alphabets_are_refused(session_factory: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        make_user(session_factory, "spoof@example.org", name="Аdmin")
    assert "display_name" in refused.value.errors


def test_api_token_names_are_cleaned_like_any_text(session_factory: Any, citizen: Any) -> None:
    """Regression (fuzzing): a token name with C1 controls or bidi overrides was stored as sent."""
    with transaction(session_factory) as s, pytest.raises(InvalidInput) as refused:
        api_tokens.create_api_token(s, citizen.id, "ноутбук\u202e\x94")
    assert "name" in refused.value.errors
    with transaction(session_factory) as s:
        assert api_tokens.create_api_token(s, citizen.id, "  ноутбук\u200b ")
