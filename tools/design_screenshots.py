"""Screenshots of the design system for docs/design.md, and the brand's PNG files.

Renders tools/design/gallery.html (every component, through the site's own Jinja environment,
base.html and macros, as an administrator sees the header) and photographs each component in
headless Chromium (/usr/bin/chromium) on a desktop (1100 px) and a 360 px phone: PNGs in
docs/design/. With ``--brand`` it also draws the PNG files of the brand from the SVG mark:
webapp/static/brand/favicon-32.png, apple-touch-icon.png (180 px) and og-image.png (1200x630,
the link preview). Nothing is served: the browser's requests are answered from memory and from
webapp/static/.

    .venv/bin/python -m tools.design_screenshots [--out docs/design] [--brand]
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from webapp.kernel.storage.models import IDEA_STATUSES

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "webapp" / "static"
BRAND = STATIC / "brand"
HOST = "http://veche.local"
STATUSES = IDEA_STATUSES  # every status the model allows has a badge
SECTIONS = [
    "colours",
    "type",
    "badges",
    "buttons",
    "card",
    "form",
    "table",
    "tabs",
    "empty",
    "toast",
    "progress",
    "collapsible",
]
DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 360, "height": 740}

GALLERY_CSS = (
    """
.gallery-section { margin-bottom: var(--space-6); padding: var(--space-2) 0; }
.gallery-swatches { list-style: none; padding: 0; display: grid; gap: var(--space-2);
  grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); }
.gallery-swatches li { display: flex; align-items: center; gap: var(--space-2); }
.gallery-swatch { width: 36px; height: 36px; border-radius: var(--radius-sm);
  border: 1px solid var(--color-line-strong); flex: none; }
"""
    + "".join(
        f".gallery-swatch-{n} {{ background: var(--color-{n}); }}\n"
        for n in (
            "primary primary-dark text muted bg surface surface-alt line line-strong"
            " success warning error info focus"
        ).split()
    )
    + "".join(
        f".gallery-type-{s} {{ font-size: var(--text-{s}); margin: 0 0 var(--space-2); }}\n"
        for s in ("2xl", "xl", "lg", "md", "base", "sm", "xs")
    )
)

BELL = (
    '<circle cx="16" cy="6.6" r="1.9" fill="none" stroke="#fff" stroke-width="1.6"/>'
    '<path d="M16 8.6c-4.6 0-6.4 3.5-6.4 7.6v3.4L7.4 22.6h17.2l-2.2-3v-3.4c0-4.1-1.8-7.6-6.4-7.6z"'
    ' fill="#fff"/><circle cx="16" cy="25" r="2.1" fill="#fff"/>'
)
OG_PAGE = f"""<!doctype html><html lang="ru"><head><meta charset="utf-8"><style>
body {{ margin:0; width:1200px; height:630px; display:flex; flex-direction:column;
  justify-content:center; padding:0 96px; box-sizing:border-box; background:#c8102e; color:#fff;
  font-family:system-ui, "Segoe UI", Roboto, Arial, sans-serif; }}
.row {{ display:flex; align-items:center; gap:40px; }}
h1 {{ font-size:150px; font-weight:800; margin:0; letter-spacing:2px; line-height:1; }}
p {{ font-size:44px; margin:40px 0 0; max-width:980px; line-height:1.25; }}
small {{ display:block; font-size:30px; opacity:.92; margin-top:24px; }}
</style></head><body><div class="row">
<svg viewBox="0 0 32 32" width="180" height="180"><rect width="32" height="32" rx="7"
 fill="#9c0c24"/>{BELL}</svg><h1>Вече</h1></div>
<p>Идеи жителей для города: предложите, поддержите, узнайте ответ</p>
<small>Ideas for the city · veche</small></body></html>"""


def icon_page(size: int, rounded: bool) -> str:
    radius = 7 if rounded else 0
    return (
        f'<!doctype html><html><body style="margin:0;background:transparent">'
        f'<svg viewBox="0 0 32 32" width="{size}" height="{size}" style="display:block">'
        f'<rect width="32" height="32" rx="{radius}" fill="#c8102e"/>{BELL}</svg></body></html>'
    )


def draw_brand(browser: Any) -> None:
    """favicon-32.png, apple-touch-icon.png and og-image.png from the mark."""
    BRAND.mkdir(parents=True, exist_ok=True)
    for name, size, rounded in (("favicon-32.png", 32, True), ("apple-touch-icon.png", 180, False)):
        page = browser.new_page(viewport={"width": size, "height": size})
        page.set_content(icon_page(size, rounded))
        page.screenshot(path=str(BRAND / name), omit_background=True)
        page.close()
    page = browser.new_page(viewport={"width": 1200, "height": 630})
    page.set_content(OG_PAGE)
    page.screenshot(path=str(BRAND / "og-image.png"))
    page.close()


def render_gallery(lang: str) -> str:
    """The gallery page as the site's Jinja environment renders it for an administrator."""
    from starlette.requests import Request

    from webapp.app import create_app
    from webapp.kernel.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'gallery.db'}",
            environment="development",
            secret_key="design-screenshots-only-0123456789-abcdefghij",
            embedding_model="hashing-char-ngrams",
        )
        app = create_app(settings)
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/design",
            "query_string": b"",
            "headers": [(b"host", b"veche.local")],
            "scheme": "http",
            "server": ("veche.local", 80),
            "app": app,
            "router": app.router,
        }
        env = app.state.jinja[lang]
        env.loader.searchpath.append(str(ROOT / "tools" / "design"))
        user = SimpleNamespace(
            display_name="Администратор Городов", email="admin@example.org", role="admin"
        )
        html: str = env.get_template("gallery.html").render(
            request=Request(scope),
            user=user,
            lang=lang,
            csrf_token="gallery",
            flashes=[],
            can=lambda perm: True,
            unread_notifications=3,
            settings=settings,
            statuses=STATUSES,
        )
        app.state.engine.dispose()
    return html.replace("</head>", f"<style>{GALLERY_CSS}</style></head>", 1)


def serve_from_memory(page: Any, html: str) -> None:
    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(HOST).split("?", 1)[0]
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        else:
            route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")

    page.route(f"{HOST}/**", answer)


def photograph(browser: Any, html: str, out: Path) -> list[Path]:
    made = []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=viewport, device_scale_factor=1)
        serve_from_memory(page, html)
        page.goto(f"{HOST}/design")
        header = out / f"header-{label}.png"
        page.locator(".site-header").screenshot(path=str(header))
        made.append(header)
        for section in SECTIONS:
            path = out / f"{section}-{label}.png"
            page.locator(f"#c-{section}").screenshot(path=str(path))
            made.append(path)
        if label == "phone":
            page.locator(".nav-toggle").click()
            opened = out / "header-phone-open.png"
            page.screenshot(path=str(opened))
            made.append(opened)
        page.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "design")
    parser.add_argument("--lang", default="ru", choices=["ru", "en"])
    parser.add_argument("--brand", action="store_true", help="also redraw the brand's PNG files")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.browser_support import chromium

    args.out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        if args.brand:
            draw_brand(browser)
            print(f"brand PNGs in {BRAND.relative_to(ROOT)}")
        made = photograph(browser, render_gallery(args.lang), args.out)
    print(f"{len(made)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
