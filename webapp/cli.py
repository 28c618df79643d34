"""The `veche` command line: serve, migrate, seed-demo, user, import, taxonomy, eval, notify."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from webapp import budget_cli
from webapp.i18n import Translator
from webapp.kernel.errors import DomainError, InvalidInput, NotFound
from webapp.kernel.settings import PLACEHOLDER_SECRET, Settings, SettingsError
from webapp.kernel.storage.models import ROLES

EPILOG = (
    "Settings come from environment variables (DATABASE_URL, SECRET_KEY, VECHE_*): "
    "see docs/settings.md. Every command: docs/cli.md."
)


class CliError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings.from_env(**overrides)


@contextmanager
def _session_factory(settings: Settings) -> Iterator[Any]:
    """A session factory for one command; its engine is disposed of afterwards."""
    from webapp.kernel.storage.db import make_engine, make_session_factory

    engine = make_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _run(settings: Settings, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from webapp.kernel.storage.db import transaction

    with _session_factory(settings) as factory, transaction(factory) as session:
        return fn(session, *args, **kwargs)


def _check_schema(settings: Settings) -> None:
    from sqlalchemy import inspect

    from webapp.kernel.storage.db import make_engine

    engine = make_engine(settings)
    try:
        if not inspect(engine).has_table("ideas"):
            raise CliError("the database has no tables yet: run `veche migrate` first")
    finally:
        engine.dispose()


# --- commands ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    if args.trusted_proxies is not None:
        proxies = tuple(p.strip() for p in args.trusted_proxies.split(",") if p.strip())
        settings = replace(settings, trusted_proxies=proxies)  # validated again
        os.environ["VECHE_TRUSTED_PROXIES"] = ",".join(proxies)  # for --workers processes
    host = args.host or settings.host
    port = args.port or settings.port
    _check_workers(settings, args.workers)
    _warn_if_exposed(settings, host)
    _check_schema(settings)
    print(f"Veche is running at http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    # One list decides which peers' X-Forwarded-For/-Proto are believed (webapp/kernel/proxies.py):
    # uvicorn gets the same one, and none (no proxy headers at all) when it is empty.
    trusted = settings.trusted_proxies
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": args.access_log,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else None,
    }
    if args.workers > 1:
        uvicorn.run("webapp.asgi:app", workers=args.workers, **options)
    else:
        from webapp.app import create_app

        uvicorn.run(create_app(settings), **options)
    return 0


def _warn_if_exposed(settings: Settings, host: str) -> None:
    """Development settings on an interface other machines reach: say loudly what that means."""
    if settings.environment == "production" or _is_loopback(host):
        return
    lines = [
        f"warning: serving on {host} with VECHE_ENV={settings.environment}: other machines can "
        "reach this server, and it runs with development settings (cookies without Secure, "
        "no HSTS).",
    ]
    if settings.secret_key == PLACEHOLDER_SECRET or len(settings.secret_key) < 32:
        lines.append(
            "warning: SECRET_KEY is the development placeholder (or too short): anyone can forge "
            "a session cookie and sign in as any account, an administrator's included."
        )
    lines.append(
        "warning: anywhere but your own machine set VECHE_ENV=production and "
        'SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(48))"), '
        "or serve on --host 127.0.0.1."
    )
    print("\n".join(lines), file=sys.stderr, flush=True)


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _check_workers(settings: Settings, workers: int) -> None:
    """Several workers count rate limits apart unless they share Redis: refuse that in production."""
    if workers <= 1 or settings.redis_url:
        return
    message = (
        f"--workers {workers} without VECHE_REDIS_URL: each worker would count the rate limits "
        "on its own (login guesses, votes, comments … multiplied by the number of workers)"
    )
    if settings.environment == "production":
        raise CliError(message + "; set VECHE_REDIS_URL=redis://host:6379/0 or serve one worker")
    print(f"warning: {message}. Set VECHE_REDIS_URL in production.", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> int:
    from webapp.kernel.storage.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.database_url, args.revision)
    print(f"Database is at revision {args.revision}: {_safe_url(settings.database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid DATABASE_URL>"


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from webapp.demo import demo
    from webapp.kernel.progress import bars

    def bar(**options: Any) -> Any:  # vote counts in thousands and millions (1.2M)
        return tqdm(**options, unit_scale=options["unit"] == "vote", disable=args.quiet)

    settings = _settings(args)
    _check_schema(settings)
    with _session_factory(settings) as factory:
        report = demo.seed_demo(
            factory,
            data_dir=Path(args.data) if args.data else (settings.data_path if args.full else None),
            if_empty=args.if_empty,
            limit=args.limit,
            progress=bars(bar),
            login_url=f"http://{settings.host}:{settings.port}/login",
            projects=True,
            polls=True,
        )
    print(report.describe())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from functools import partial

    from tqdm import tqdm

    from webapp.demo import importer
    from webapp.ideas.ideas import Limits
    from webapp.kernel.progress import bars

    settings = _settings(args)
    _check_schema(settings)
    with _session_factory(settings) as factory:
        report = importer.import_file(
            factory,
            Path(args.file),
            fmt=args.format,
            author_email=args.author,
            dry_run=args.dry_run,
            progress=bars(partial(tqdm, disable=args.quiet)),
            limits=Limits(title_max=settings.title_max_length, body_max=settings.body_max_length),
        )
    print(report.describe())
    return 0 if not report.errors or args.dry_run else 1


def cmd_user_create(args: argparse.Namespace) -> int:
    from webapp.accounts import users

    settings = _settings(args)
    _check_schema(settings)
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Repeat password: ") != password:
                raise CliError("the passwords do not match")

    def taken(session: Any) -> bool:
        try:
            users.find_by_email(session, args.email)
        except NotFound:
            return False
        return True

    # The operator may know what the web form does not say (it names no account: docs/security.md).
    if _run(settings, taken):
        raise CliError(f"a user with e-mail {args.email} already exists")
    user = _run(
        settings,
        users.register,
        email=args.email,
        display_name=args.name or args.email.split("@")[0],
        password=password,
        password_min_length=settings.password_min_length,
        password_max_length=settings.password_max_length,
        role=args.role,
        verified_resident=args.verified,
    )
    print(f"Created {user.role} {user.email} (id {user.id})")
    return 0


def cmd_user_grant(args: argparse.Namespace) -> int:
    from webapp.accounts import users

    settings = _settings(args)
    _check_schema(settings)
    user = _run(settings, users.grant_role, args.email, args.role)
    print(f"{user.email} is now {user.role}")
    return 0


def cmd_user_block(args: argparse.Namespace) -> int:
    from webapp.accounts import users

    settings = _settings(args)
    _check_schema(settings)
    user = _run(settings, users.set_blocked, args.email, not args.unblock, reason=args.reason or "")
    print(f"{user.email} is {'unblocked' if args.unblock else 'blocked'}")
    return 0


def _when(value: Any) -> str:
    """A stored time for the token commands: UTC, to the minute."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"


def cmd_user_token(args: argparse.Namespace) -> int:
    from webapp.accounts import api_tokens, users
    from webapp.kernel.errors import Conflict

    settings = _settings(args)
    _check_schema(settings)
    limits = api_tokens.TokenLimits.from_settings(settings)

    def make(session: Any) -> Any:
        user = users.find_by_email(session, args.email)
        return api_tokens.issue(
            session,
            user.id,
            args.name or "cli",
            days=args.days,
            limits=limits,
            origin=api_tokens.Origin(None, "cli"),
        )

    try:
        new = _run(settings, make)
    except Conflict as exc:
        raise CliError(
            f"{args.email} already has {limits.per_user} API tokens, the most allowed "
            f"(VECHE_API_TOKENS_PER_USER); revoke one first: veche user tokens {args.email}, "
            f"then veche user revoke-token {args.email} --id ID"
        ) from exc
    print(new.token)
    print(
        f"Token {new.info.id} ({new.info.hint}…) expires on {_when(new.info.expires_at)}. "
        "Keep this token secret; it is shown only once. Send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0


def cmd_user_tokens(args: argparse.Namespace) -> int:
    from webapp.accounts import api_tokens, users

    settings = _settings(args)
    _check_schema(settings)

    def load(session: Any) -> list[Any]:
        return api_tokens.list_tokens(session, users.find_by_email(session, args.email).id)

    items = _run(settings, load)
    if not items:
        print(f"{args.email} has no API tokens.")
        return 0
    rows = [("ID", "NAME", "TOKEN", "CREATED", "LAST USED", "EXPIRES")]
    for t in items:
        expires = ("expired " if t.expired else "") + _when(t.expires_at)
        rows.append(
            (
                str(t.id),
                t.name or "-",
                f"{t.hint}…",
                _when(t.created_at),
                _when(t.last_used_at),
                expires,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_user_revoke_token(args: argparse.Namespace) -> int:
    from webapp.accounts import api_tokens, users
    from webapp.kernel.errors import NotFound as TokenNotFound

    settings = _settings(args)
    _check_schema(settings)
    origin = api_tokens.Origin(None, "cli")
    if not args.all and not 0 < args.id < 2**31:
        raise CliError(f"{args.email} has no API token with id {args.id}")

    def revoke(session: Any) -> Any:
        user = users.find_by_email(session, args.email)
        if args.all:
            return api_tokens.revoke_all(session, user.id, origin=origin)
        try:
            return api_tokens.revoke(session, user.id, args.id, origin=origin)
        except TokenNotFound as exc:
            raise CliError(f"{args.email} has no API token with id {args.id}") from exc

    result = _run(settings, revoke)
    if args.all:
        print(f"Revoked {result} API token{'' if result == 1 else 's'} of {args.email}")
    else:
        print(f"Revoked API token {result.id} ({result.hint}…) of {args.email}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from functools import partial

    from tqdm import tqdm

    from ml.embeddings import ModelUnavailable
    from webapp.dedup.embedder import load_finder
    from webapp.dedup.reindex import reindex
    from webapp.kernel.progress import bars

    settings = _settings(args)
    _check_schema(settings)
    if args.batch < 1:
        raise CliError(f"--batch must be at least 1, got {args.batch}")
    model = (args.model or settings.embedding_model).strip()
    if model.lower() == "off":
        raise CliError("VECHE_EMBEDDING_MODEL is 'off': name a model with --model")
    try:
        finder = load_finder(settings, model)
    except ModelUnavailable as exc:
        raise CliError(f"the model {model!r} is not available: {exc}") from None
    except (ValueError, OSError) as exc:
        raise CliError(f"cannot load the model {model!r}: {exc}") from None
    if args.model and args.model.strip() != settings.embedding_model.strip():
        print(
            f"note: VECHE_EMBEDDING_MODEL is {settings.embedding_model!r}; a server running with "
            "it will embed every idea again with that model. Set it to this one too.",
            file=sys.stderr,
        )
    with _session_factory(settings) as factory:
        try:
            report = reindex(
                factory,
                settings,
                finder,
                batch=args.batch,
                force=args.force,
                progress=bars(partial(tqdm, disable=args.quiet)),
            )
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
    print(report.describe())
    return 0


def cmd_taxonomy(args: argparse.Namespace) -> int:
    from webapp.taxonomy import taxonomy

    settings = _settings(args)
    _check_schema(settings)
    if args.kind == "categories":
        n = _run(
            settings,
            taxonomy.load_categories,
            Path(args.file) if args.file else taxonomy.DEFAULT_CATEGORIES,
        )
    else:
        n = _run(
            settings,
            taxonomy.load_districts,
            Path(args.file) if args.file else taxonomy.DEFAULT_DISTRICTS,
        )
    print(f"Loaded {n} {args.kind}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """The Dedup evaluation (ml.evaluate): methods side by side on the held-out real data."""
    from ml import evaluate
    from ml.datasets import DataMissing
    from ml.embeddings import ModelUnavailable
    from ml.trigram import TrigramUnavailable

    data = Path(args.data)
    if not data.is_dir():
        raise CliError(f"data folder {data} not found (the shared data, see its README.md)")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise CliError("--methods names no method")
    if args.quora_limit is not None and args.quora_limit < 2:
        raise CliError("--quora-limit must be at least 2 (0 is not allowed; omit it for 4000)")
    settings = evaluate.EvalSettings(
        data=data,
        methods=methods,
        model=args.model,
        quora_limit=args.quora_limit or evaluate.QUORA_LIMIT,
        pg_url=args.pg_url,
        progress=not args.quiet,
    )
    try:
        report = evaluate.run(settings)
    except (ValueError, DataMissing, ModelUnavailable, TrigramUnavailable) as exc:
        raise CliError(str(exc)) from exc
    table = evaluate.markdown(report)
    print(table, end="")
    evaluate.write_json(report, Path(args.json))
    print(f"Results written to {args.json}", file=sys.stderr)
    if args.markdown:
        Path(args.markdown).write_text(table, encoding="utf-8")
    return 0


def cmd_polls_notify(args: argparse.Namespace) -> int:
    """Tell the audiences of the polls that opened since the last look (each poll once)."""
    from webapp.kernel.storage.db import transaction
    from webapp.kernel.storage.models import utcnow
    from webapp.polls.notify import notify_opened

    settings = _settings(args)
    with _session_factory(settings) as factory, transaction(factory) as session:
        result = notify_opened(session, utcnow(), email=settings.email_enabled)
    print(f"{result.polls} polls announced, {result.notifications} notifications")
    return 0


def cmd_notify_send(args: argparse.Namespace) -> int:
    """E-mail the notifications that are due now, once (the server's sender does it every few
    seconds; this is for cron, or to flush the queue by hand)."""
    from starlette.routing import Router
    from tqdm import tqdm

    from webapp.app import STATIC_DIR, build_jinja
    from webapp.i18n import load_translators
    from webapp.notifications.mailer import Mailer
    from webapp.notifications.views.email import EmailTemplates
    from webapp.routes import build_routes

    settings = _settings(args)
    if not settings.email_enabled:
        raise CliError("VECHE_SMTP_HOST is not set: there is no SMTP server to send through")
    if args.batch < 1:
        raise CliError(f"--batch must be at least 1, got {args.batch}")
    _check_schema(settings)
    router = Router(routes=build_routes(STATIC_DIR))
    translators = load_translators(settings.languages, settings.timezone)
    with _session_factory(settings) as factory:
        templates = EmailTemplates(build_jinja(translators, settings))
        mailer = Mailer(
            settings,
            factory,
            translators,
            router.url_path_for,
            templates=templates,
            batch_size=args.batch,
        )
        due = mailer.count_due()
        if not due:
            print("Nothing to send.")
            return 0
        with tqdm(total=due, desc="e-mail", unit="notification", disable=args.quiet) as bar:
            report = mailer.send_due(on_batch=lambda r: bar.update(r.claimed))
    for error in report.errors[:5]:
        print(f"veche: warning: {error}", file=sys.stderr)
    print(report.describe())
    return 0 if not report.errors else 1


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veche",
        description="Veche: a civic platform where citizens propose and support ideas for their city.",
        epilog=EPILOG,
    )
    parser.add_argument("--database-url", help="overrides DATABASE_URL for this command")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="serve the web site",
        description="Serve the site with uvicorn. Outside production a --host that is not a "
        "loopback address prints warnings first; --workers N>1 without VECHE_REDIS_URL refuses "
        "to start in production and warns elsewhere (each worker would count the rate limits "
        "alone).",
        epilog=EPILOG,
    )
    p.add_argument("--host", help="interface to listen on (default VECHE_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default VECHE_PORT, 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log each request (behind a reverse proxy that logs them; saves CPU under load)",
    )
    p.add_argument(
        "--trusted-proxies",
        metavar="LIST",
        help="reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (IP "
        "addresses or networks, comma-separated; overrides VECHE_TRUSTED_PROXIES; '' = none)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Create or upgrade the database schema (Alembic: one history for SQLite and "
        "PostgreSQL).",
        epilog=EPILOG,
    )
    p.add_argument("--revision", default="head", help="target revision (default head)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "seed-demo",
        help="load demo data: real Russian Public Initiative petitions (Moscow first) with "
        "their support counts, and UK and Madrid ideas as foreign-language examples",
        description="Load the demo: categories, Moscow's okrugs and districts, one account per "
        "role, and real proposals with their real support counts stored as vote rows: Russian "
        "Public Initiative petitions (roi.ru, 2013; Moscow's city petitions placed in their "
        "districts where the source names the place), UK Parliament petitions and Decide Madrid "
        "proposals as labelled examples without a district; and two city projects: the Wieliczka "
        "2023 Green Budget rebuilt from Pabulib (its real names, ballots and equal-shares result; "
        "costs in roubles at 20 ₽ per złoty) and a current Moscow question open for proposals. "
        "Sources and licences: docs/data.md.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="folder with roi_petitions/, moscow_boundaries/, uk_petitions/ and decide_madrid/ "
        "(the full sets); default: the extract shipped with Veche",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="read the full sets from VECHE_DATA_DIR (default ../shared/data); same as --data $VECHE_DATA_DIR",
    )
    p.add_argument(
        "--if-empty", action="store_true", help="do nothing if the database already has ideas"
    )
    p.add_argument("--limit", type=int, help="load at most this many ideas from each source")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser(
        "import",
        help="import ideas from a CSV or JSONL file",
        description="Import ideas. Every row is checked as a submission on the site is; errors "
        "name the row, and the command exits with status 1 when a row had one. The columns: "
        "docs/operations.md, 'Importing ideas'.",
        epilog=EPILOG,
    )
    p.add_argument(
        "file",
        help="a .csv or .jsonl file: title, body, category, district, language, external_ref, "
        "created_at, author_email",
    )
    p.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    p.add_argument(
        "--author",
        metavar="EMAIL",
        help="the existing account the ideas are attributed to, unless a row has its own "
        "author_email (default: no author)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the file and report problems; store nothing"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "reindex",
        help="embed every idea with the embedding model and rebuild the duplicate groups",
        epilog=EPILOG,
    )
    p.add_argument(
        "--model",
        help="model name or local path (default VECHE_EMBEDDING_MODEL); see docs/operations.md",
    )
    p.add_argument(
        "--batch", type=int, default=64, help="ideas embedded per transaction (default 64)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-embed ideas whose vector is already current for this model",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser(
        "taxonomy",
        help="load categories or districts from a JSON file",
        description="Load or update categories, or okrugs and districts, from a JSON file, by "
        "slug (nothing is deleted, so ideas keep their references).",
        epilog=EPILOG,
    )
    p.add_argument("kind", choices=["categories", "districts"])
    p.add_argument(
        "--file", help="JSON file (default: the shipped Moscow okrugs/districts or city categories)"
    )
    p.set_defaults(func=cmd_taxonomy)

    p = sub.add_parser(
        "eval",
        help="measure duplicate detection on the labelled data (docs/dedup.md, 'Evaluation')",
        epilog=EPILOG,
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        required=True,
        help="the shared data folder (paraphraser_ru/, stsb_ru_en/, quora_en/, "
        "uk_petitions/), e.g. ../shared/data",
    )
    p.add_argument("--model", help="model of the 'default' method (default: the embedded one)")
    p.add_argument(
        "--methods",
        default=",".join(("default", "e5", "minilm", "pg_trgm")),
        help="comma-separated: default, e5, minilm, pg_trgm, hashing, cosine:<model> "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--quora-limit",
        type=int,
        default=None,
        metavar="N",
        help="Quora test pairs, a fixed subsample (default 4000)",
    )
    p.add_argument(
        "--pg-url",
        metavar="URL",
        help="PostgreSQL server for pg_trgm (default postgresql://postgres@127.0.0.1"
        ":5432/postgres; the database veche_eval is created on it)",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        default="bench/results/dedup_eval.json",
        help="where to write the results (default: %(default)s)",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as Markdown")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval)

    notify = sub.add_parser("notify", help="e-mail of notifications", epilog=EPILOG)
    nsub = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    p = nsub.add_parser(
        "send",
        help="e-mail the notifications due now, once (needs VECHE_SMTP_HOST)",
        description="E-mail the notifications due now, once. A running server does it every "
        "VECHE_EMAIL_POLL_SECONDS; this is for cron, or to flush the queue by hand. Needs "
        "VECHE_SMTP_HOST.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--batch", type=int, default=200, help="notifications claimed at a time (default 200)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_notify_send)

    polls = sub.add_parser("polls", help="city polls", epilog=EPILOG)
    psub = polls.add_subparsers(dest="polls_command", required=True, metavar="ACTION")
    p = psub.add_parser(
        "notify",
        help="tell the audiences of the polls that opened, once per poll",
        description="Create a notification for every resident in the audience of each published "
        "poll that has opened and was not announced yet (e-mailed where the resident allows it). "
        "A running server does it every 30 seconds; this is for cron or by hand.",
        epilog=EPILOG,
    )
    p.set_defaults(func=cmd_polls_notify)

    user = sub.add_parser("user", help="manage accounts", epilog=EPILOG)
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    p = usub.add_parser(
        "create",
        help="create an account",
        description="Create an account. The password is checked like the site's "
        "(docs/security.md, 'Passwords and accounts').",
    )
    p.add_argument("email")
    p.add_argument("--name", help="display name (default: the part of the e-mail before @)")
    p.add_argument("--role", choices=ROLES, default="citizen")
    p.add_argument("--password", help="password (default: asked, or read from standard input)")
    p.add_argument("--verified", action="store_true", help="mark as a verified resident")
    p.set_defaults(func=cmd_user_create)
    p = usub.add_parser(
        "grant",
        help="give an account a role",
        description="Give an account a role; a new role ends the account's sessions. Audited.",
    )
    p.add_argument("role", choices=ROLES)
    p.add_argument("email")
    p.set_defaults(func=cmd_user_grant)
    p = usub.add_parser(
        "block",
        help="block (or --unblock) an account",
        description="Block or unblock an account; blocking ends its sessions at once. Audited.",
    )
    p.add_argument("email")
    p.add_argument("--unblock", action="store_true")
    p.add_argument("--reason", help="why (kept in the audit log)")
    p.set_defaults(func=cmd_user_block)
    p = usub.add_parser(
        "token",
        help="create an API token for an account (printed once)",
        description="Create an API token: the token goes to standard output (shown this once), "
        "its id and expiry to standard error. Refused beyond VECHE_API_TOKENS_PER_USER "
        "unexpired tokens. Audited.",
    )
    p.add_argument("email")
    p.add_argument("--name", help="a label for the token")
    p.add_argument(
        "--days",
        type=int,
        help="lifetime in days (default VECHE_API_TOKEN_DAYS, at most VECHE_API_TOKEN_MAX_DAYS)",
    )
    p.set_defaults(func=cmd_user_token)
    p = usub.add_parser(
        "tokens",
        help="list an account's API tokens (never the tokens themselves)",
        description="List an account's API tokens: id, name, first characters, created, last "
        "used, expiry (never the tokens themselves).",
    )
    p.add_argument("email")
    p.set_defaults(func=cmd_user_tokens)
    p = usub.add_parser(
        "revoke-token",
        help="revoke one or all of an account's API tokens",
        description="Revoke one or all of an account's API tokens; they stop working at once. "
        "Audited.",
    )
    p.add_argument("email")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the token's id (see: veche user tokens EMAIL)")
    which.add_argument("--all", action="store_true", help="every token of the account")
    p.set_defaults(func=cmd_user_revoke_token)

    budget_cli.register(sub)
    return parser


def _describe(exc: DomainError) -> str:
    tr = Translator("en")
    if isinstance(exc, InvalidInput) and exc.errors:
        return "; ".join(
            f"{field}: {tr.gettext(msg, **params)}" for field, (msg, params) in exc.errors.items()
        )
    return tr.gettext(exc.message, **exc.params)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, SettingsError) as exc:
        print(f"veche: error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"veche: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"veche: error: database error: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("veche: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
