"""`import_file`: ideas from CSV or JSONL, validated like the site's form, idempotent by external_ref."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import make_user
from tests.progress_helpers import RecordedProgress
from webapp.demo.importer import import_file
from webapp.ideas.ideas import IdeaFilter, list_ideas
from webapp.kernel.errors import InvalidInput, NotFound
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, District, Idea

HEADER = [
    "title",
    "body",
    "category",
    "district",
    "language",
    "external_ref",
    "created_at",
    "author_email",
]
GOOD = [
    [
        "Больше велодорожек в центре",
        "Нужно построить велодорожки вдоль Садового кольца и набережных.",
        "transport",
        "arbat",
        "",
        "test:1",
        "2024-05-01T12:00:00Z",
        "",
    ],
    [
        "More benches along the river",
        "The embankment has no benches at all; older people cannot rest.",
        "improvement",
        "",
        "en",
        "test:2",
        "",
        "",
    ],
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def ideas(session_factory: Any) -> list[Idea]:
    with transaction(session_factory) as session:
        return list(session.scalars(select(Idea).order_by(Idea.id)))


def count(session_factory: Any) -> int:
    with transaction(session_factory) as session:
        return session.scalar(select(func.count()).select_from(Idea)) or 0


def test_csv_rows_become_published_ideas(tmp_path: Path, session_factory: Any) -> None:
    author = make_user(session_factory, "importer@example.org")
    report = import_file(
        session_factory,
        write_csv(tmp_path / "i.csv", GOOD),
        author_email=author.email,
    )
    assert (report.rows, report.imported, report.skipped, report.errors) == (2, 2, 0, ())
    first, second = ideas(session_factory)
    with transaction(session_factory) as session:
        transport = session.scalar(select(Category.id).where(Category.slug == "transport"))
        arbat = session.scalar(select(District.id).where(District.slug == "arbat"))
    assert (first.title, first.category_id, first.district_id) == (GOOD[0][0], transport, arbat)
    assert (first.language, second.language) == ("ru", "en")  # detected when absent
    assert first.created_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert {first.author_id, second.author_id} == {author.id}
    assert {first.status, second.status} == {"published"}
    assert first.external_ref == "test:1" and first.search_doc


def test_imported_ideas_are_found_by_search(tmp_path: Path, session_factory: Any) -> None:
    import_file(session_factory, write_csv(tmp_path / "i.csv", GOOD))
    with transaction(session_factory) as session:
        found = list_ideas(session, IdeaFilter(q="benches"), page_size=10)
    assert [i.title for i in found.items] == [GOOD[1][0]]


def test_jsonl_rows_accept_category_ids_and_row_authors(
    tmp_path: Path, session_factory: Any
) -> None:
    author = make_user(session_factory, "row-author@example.org")
    with transaction(session_factory) as session:
        parks = session.scalar(select(Category.id).where(Category.slug == "parks"))
    path = write_jsonl(
        tmp_path / "i.jsonl",
        [
            {
                "title": "Plant lime trees on the boulevard",
                "body": "Old lime trees were cut last year; plant new ones.",
                "category": parks,
                "author_email": "ROW-AUTHOR@example.org",
                "external_ref": "j:1",
            },
            {
                "title": "Fountain in the courtyard",
                "body": "A small drinking fountain for children and dogs.",
                "category": str(parks),
                "district": None,
            },
        ],
    )
    report = import_file(session_factory, path)
    assert report.imported == 2 and report.errors == ()
    stored = ideas(session_factory)
    assert [i.category_id for i in stored] == [parks, parks]
    assert [i.author_id for i in stored] == [author.id, None]


def test_invalid_rows_are_reported_by_row_number_and_the_rest_stored(
    tmp_path: Path, session_factory: Any
) -> None:
    rows = [
        GOOD[0],
        ["Bad", "too short", "nope", "nowhere", "xx", "", "yesterday", "ghost@example.org"],
        GOOD[1],
    ]
    report = import_file(session_factory, write_csv(tmp_path / "i.csv", rows))
    assert report.imported == 2
    assert report.errors == (
        "row 3: title: Must be at least 5 characters long.",
        "row 3: body: Must be at least 20 characters long.",
        "row 3: category: Unknown value.",
        "row 3: district: Unknown value.",
        "row 3: language: Must be one of: ru, en, es.",
        "row 3: created_at: Enter a date and time in ISO 8601 format, e.g. 2024-05-01T12:00:00Z.",
        "row 3: author_email: No user with e-mail ghost@example.org.",
    )
    assert "row 3: title: Must be at least 5 characters long." in report.describe()
    assert count(session_factory) == 2


def test_site_rules_apply_to_imports(tmp_path: Path, session_factory: Any) -> None:
    rows = [
        ["A title that is fine", "Body with a \u202e direction override inside it.", "other"],
        ["x" * 201, "A body that is long enough to pass.", ""],
    ]
    report = import_file(session_factory, write_csv(tmp_path / "i.csv", rows, HEADER[:3]))
    assert report.errors == (
        "row 2: body: Contains control or direction-override characters.",
        "row 3: title: Must be at most 200 characters long.",
        "row 3: category: Choose a category.",
    )


def test_dry_run_stores_nothing(tmp_path: Path, session_factory: Any) -> None:
    report = import_file(session_factory, write_csv(tmp_path / "i.csv", GOOD), dry_run=True)
    assert report.imported == 2
    assert "nothing was stored" in report.describe()
    assert count(session_factory) == 0


def test_rows_with_a_known_external_ref_are_skipped(tmp_path: Path, session_factory: Any) -> None:
    path = write_csv(tmp_path / "i.csv", [*GOOD, GOOD[0]])
    first = import_file(session_factory, path)
    assert (first.imported, first.skipped) == (2, 1)
    again = import_file(session_factory, path)
    assert (again.imported, again.skipped) == (0, 3)
    assert count(session_factory) == 2


def test_progress_counts_every_row_checked(tmp_path: Path, session_factory: Any) -> None:
    """The importer reports one stage; the command line draws it (tests/test_cli.py)."""
    progress = RecordedProgress()
    bad = ["Bad", "too short", "nope", "nowhere", "xx", "", "yesterday", "ghost@example.org"]
    rows = [*GOOD, GOOD[0], bad]  # a repeated external_ref, an invalid row
    report = import_file(session_factory, write_csv(tmp_path / "i.csv", rows), progress=progress)
    assert (report.imported, report.skipped, report.error_rows) == (2, 1, 1)
    assert progress.summary() == {"import/row": (4, 4)}


def test_invalid_utf8_is_an_error_naming_file_and_line(
    tmp_path: Path, session_factory: Any
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"title,body,category\nOk title here,A body that is long enough,other\n"
        b"Caf\xe9 idea,Another body that is long enough,other\n"
    )
    with pytest.raises(InvalidInput) as caught:
        import_file(session_factory, path)
    ((message, params),) = caught.value.errors.values()
    text = message % params
    assert str(path) in text and "line 3" in text and "UTF-8" in text
    assert count(session_factory) == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.jsonl", '{"title": "x"}\n{"title": \n', "line 2"),
        ("list.jsonl", '["not", "an", "object"]\n', "expected a JSON object"),
        ("typo.csv", "titel,body,category\n", "unknown column(s) 'titel'"),
        ("empty.csv", "", "empty"),
        ("quotes.csv", 'title,body,category\n"a "b" c,body,other\n', "malformed CSV"),
        ("ideas.txt", "title,body,category\n", "--format"),
    ],
)
def test_malformed_files_are_errors(
    tmp_path: Path, session_factory: Any, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        import_file(session_factory, path)
    ((message, params),) = caught.value.errors.values()
    assert expected in message % params and str(path) in message % params


def test_unknown_author_option_is_an_error(tmp_path: Path, session_factory: Any) -> None:
    with pytest.raises(NotFound):
        import_file(
            session_factory,
            write_csv(tmp_path / "i.csv", GOOD),
            author_email="nobody@example.org",
        )
    assert count(session_factory) == 0


def test_explicit_format_overrides_the_extension(tmp_path: Path, session_factory: Any) -> None:
    path = write_jsonl(
        tmp_path / "ideas.txt",
        [
            {
                "title": "Wi-Fi in the library",
                "body": "Free public Wi-Fi in all city libraries.",
                "category": "digital",
            }
        ],
    )
    assert import_file(session_factory, path, fmt="jsonl").imported == 1
