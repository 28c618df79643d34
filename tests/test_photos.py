"""Photos of ideas: every upload decoded and re-encoded, metadata stripped, only by the author or
a moderator, capped, rate-limited, served with long cache headers (webapp/kernel/media/,
webapp/ideas/photos.py, webapp/ideas/views/photos.py)."""

from __future__ import annotations

import dataclasses
import io
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageCms
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.app import create_app
from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.media import ImageRejected, MediaStore, process_image
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, Category, Idea, IdeaPhoto

EN = {"accept-language": "en"}
RU = {"accept-language": "ru"}


# --- pictures made here, with Pillow -----------------------------------------------------------


def jpeg_with_exif_gps_and_orientation() -> bytes:
    """40×20: red left half, blue right half; EXIF says "rotate 90° clockwise to view" (6),
    and carries a GPS position, a camera serial, an ICC profile and a comment."""
    image = Image.new("RGB", (40, 20), (220, 0, 0))
    image.paste((0, 0, 220), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SpyCam"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (55.0, 45.0, 20.88)
    gps[3] = "E"
    gps[4] = (37.0, 37.0, 3.6)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, icc_profile=icc, comment=b"secret comment", quality=95)
    return out.getvalue()


def png_with_transparency() -> bytes:
    """20×20: transparent left half, opaque green right half."""
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((0, 160, 0, 255), (10, 0, 20, 20))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_bomb(side: int) -> bytes:
    """A tiny file that decodes to ``side``² pixels."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def noise_jpeg(side: int = 200) -> bytes:
    """A JPEG that does not compress well (random pixels)."""
    image = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 10), (10, 20, 200)).save(out, "WEBP")
    return out.getvalue()


def new_idea(factory: Any, author: CurrentUser, title: str, body: str) -> int:
    with transaction(factory) as session:
        category = session.scalars(select(Category.id).order_by(Category.id)).first()
        data = {"title": title, "body": body, "category_id": str(category)}
        return ideas_service.submit_idea(session, author, data)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def media_settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, media_dir=str(tmp_path / "media"))


@pytest.fixture
def photo_app(media_settings: Settings) -> Iterator[Starlette]:
    application = create_app(media_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def factory(photo_app: Starlette) -> sessionmaker[Session]:
    session_factory: sessionmaker[Session] = photo_app.state.session_factory
    return session_factory


@pytest.fixture
def author(factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(factory, "author@example.org")


@pytest.fixture
def idea_id(factory: sessionmaker[Session], author: CurrentUser) -> int:
    return new_idea(
        factory,
        author,
        "Скамейки во дворе на Тверской",
        "Поставить три скамейки у детской площадки.",
    )


def signed_in(app: Starlette, email: str) -> Browser:
    browser = Browser(app)
    browser.login(email)
    return browser


def upload(
    browser: Browser,
    idea_id: int,
    content: bytes,
    name: str = "photo.jpg",
    ctype: str = "image/jpeg",
    alt: str = "",
    headers: dict[str, str] | None = None,
    csrf: bool = True,
) -> Any:
    data = {"alt": alt}
    if csrf:
        data["csrf_token"] = browser.csrf()
    return browser.post(
        f"/ideas/{idea_id}/photos",
        data=data,
        files={"photo": (name, content, ctype)},
        headers=headers or EN,
    )


def photo_rows(factory: sessionmaker[Session]) -> list[IdeaPhoto]:
    with factory() as session:
        return list(session.scalars(select(IdeaPhoto).order_by(IdeaPhoto.id)))


def stored_files(settings: Settings) -> list[str]:
    root = Path(settings.media_dir)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# --- the pipeline through the site ------------------------------------------------------------


def test_a_jpeg_is_stored_upright_without_exif_gps_icc_or_comment(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    original = jpeg_with_exif_gps_and_orientation()
    assert b"SERIAL-123456" in original and b"secret comment" in original

    response = upload(browser, idea_id, original, alt="Двор сейчас")

    assert response.status_code == 303, response.text[:500]
    [row] = photo_rows(factory)
    assert (row.idea_id, row.alt, row.width, row.height) == (idea_id, "Двор сейчас", 20, 40)
    store = MediaStore(Path(media_settings.media_dir))
    stored = store.path(row.key).read_bytes()
    assert stored_files(media_settings) == [f"{row.key}-thumb.jpg", f"{row.key}.jpg"]
    for secret in (b"SERIAL-123456", b"SpyCam", b"secret comment", b"Exif", b"ICC_PROFILE"):
        assert secret not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (20, 40)  # turned by its orientation: the red half is now on top
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "comment"} & set(image.info)
        top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 80, top
    assert bottom[2] > 150 and bottom[0] < 80, bottom
    import hashlib

    assert row.key == hashlib.sha256(stored).hexdigest()
    assert row.bytes == len(stored)


def test_a_transparent_png_is_flattened_onto_white(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    response = upload(browser, idea_id, png_with_transparency(), "plan.png", "image/png")
    assert response.status_code == 303
    [row] = photo_rows(factory)
    stored = MediaStore(Path(media_settings.media_dir)).path(row.key).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        left, right = image.getpixel((3, 10)), image.getpixel((16, 10))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert min(left) > 240, left  # transparent became white, not black
    assert right[1] > 120 and right[0] < 60, right


def test_the_type_is_read_from_the_bytes_not_the_name(
    photo_app: Starlette, factory: Any, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    # a WebP sent as "photo.png" with a wrong content type is still a WebP, and accepted
    assert upload(browser, idea_id, webp(), "photo.png", "text/plain").status_code == 303
    assert len(photo_rows(factory)) == 1


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_text_file_named_jpg_is_refused_and_nothing_is_stored(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int, lang: str
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    response = upload(
        browser,
        idea_id,
        b"<?php echo 'hello'; ?>\n" * 10,
        "photo.jpg",
        "image/jpeg",
        headers={"accept-language": lang},
    )
    assert response.status_code == 422
    # the form is shown again, with the reason next to the file field
    assert 'id="photo-error"' in response.text
    assert 'enctype="multipart/form-data"' in response.text
    reason = {"en": "This file is not a photo we can read", "ru": "Не удалось прочитать этот файл"}
    assert reason[lang] in response.text
    assert photo_rows(factory) == []
    assert stored_files(media_settings) == []


def test_a_decompression_bomb_is_refused_before_it_is_decoded(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    bomb = png_bomb(8_000)  # 64 megapixels in a few kilobytes: above the 40 MP limit
    assert len(bomb) < 100_000
    response = upload(browser, idea_id, bomb, "bomb.png", "image/png")
    assert response.status_code == 422
    assert "8000 × 8000" in response.text or "8,000 × 8,000" in response.text
    assert photo_rows(factory) == [] and stored_files(media_settings) == []


def test_a_bomb_past_pillows_own_limit_is_refused_too() -> None:
    with pytest.raises(ImageRejected):
        process_image(png_bomb(20_000), max_pixels=80_000_000)  # 400 MP


def test_a_file_over_the_byte_limit_is_refused_with_413(settings: Settings, tmp_path: Path) -> None:
    small = dataclasses.replace(settings, media_dir=str(tmp_path / "m"), photo_max_bytes=4096)
    app = create_app(small)
    try:
        factory = app.state.session_factory
        author = make_user(factory, "author@example.org")
        idea = new_idea(factory, author, "Фонари в парке", "Нужно больше света вечером у прудов.")
        browser = signed_in(app, "author@example.org")
        just_over = noise_jpeg(60)
        assert 4096 < len(just_over) < 4096 + 60_000
        response = upload(browser, idea, just_over)
        assert response.status_code == 413
        assert "The file is too large: the limit is" in response.text  # the form, re-rendered
        assert 'id="photo-file"' in response.text
        # far over: the stream is cut by the body limit before it is read whole
        response = upload(browser, idea, noise_jpeg(400))
        assert response.status_code == 413
        assert photo_rows(factory) == []
        assert not (tmp_path / "m").exists()
    finally:
        app.state.engine.dispose()


def test_the_body_limit_of_other_addresses_is_unchanged(photo_app: Starlette) -> None:
    limit = photo_app.state.settings.max_body_bytes
    response = Browser(photo_app).post("/login", content=b"x" * (limit + 1))
    assert response.status_code == 413


# --- who may add and remove -------------------------------------------------------------------


def test_only_the_author_or_a_moderator_may_add_photos(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    make_user(factory, "other@example.org")
    moderator = make_user(factory, "mod@example.org", role="moderator")

    anonymous = Browser(photo_app)
    assert upload(anonymous, idea_id, webp()).status_code == 401
    other = signed_in(photo_app, "other@example.org")
    assert upload(other, idea_id, webp()).status_code == 403
    assert photo_rows(factory) == [] and stored_files(media_settings) == []
    # the idea page offers the form to nobody but them
    assert "Add a photo" not in other.get(f"/ideas/{idea_id}", headers=EN).text
    assert 'type="file"' not in other.get(f"/ideas/{idea_id}/photos", headers=EN).text

    mod = signed_in(photo_app, "mod@example.org")
    assert upload(mod, idea_id, webp()).status_code == 303
    with factory() as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "idea.photo_add"))
    assert (entry.actor_id, entry.target_id) == (moderator.id, idea_id)


def test_the_author_removes_a_photo_and_its_files_go(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    make_user(factory, "other@example.org")
    author = signed_in(photo_app, "author@example.org")
    assert upload(author, idea_id, webp()).status_code == 303
    [row] = photo_rows(factory)
    url = f"/ideas/{idea_id}/photos/{row.id}/remove"

    other = signed_in(photo_app, "other@example.org")
    assert other.submit(url).status_code == 403
    assert author.post(url, data={}).status_code == 403  # no CSRF token
    assert len(photo_rows(factory)) == 1

    assert author.submit(url).status_code == 303
    assert photo_rows(factory) == []
    assert stored_files(media_settings) == []


def test_the_same_picture_on_two_ideas_keeps_its_files_until_the_last_is_removed(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int, author: Any
) -> None:
    second = new_idea(factory, author, "Велодорожка", "Вдоль всей набережной до моста.")
    browser = signed_in(photo_app, "author@example.org")
    picture = webp()
    assert upload(browser, idea_id, picture).status_code == 303
    assert upload(browser, second, picture).status_code == 303
    first, other = photo_rows(factory)
    assert first.key == other.key and len(stored_files(media_settings)) == 2
    assert browser.submit(f"/ideas/{idea_id}/photos/{first.id}/remove").status_code == 303
    assert len(stored_files(media_settings)) == 2  # still used by the second idea
    assert browser.submit(f"/ideas/{second}/photos/{other.id}/remove").status_code == 303
    assert stored_files(media_settings) == []


def test_a_photo_of_another_idea_cannot_be_removed_through_this_one(
    photo_app: Starlette, factory: Any, idea_id: int, author: Any
) -> None:
    second = new_idea(factory, author, "Велодорожка", "Вдоль всей набережной до моста.")
    browser = signed_in(photo_app, "author@example.org")
    assert upload(browser, second, webp()).status_code == 303
    [row] = photo_rows(factory)
    assert browser.submit(f"/ideas/{idea_id}/photos/{row.id}/remove").status_code == 404
    assert len(photo_rows(factory)) == 1


def test_an_upload_without_the_csrf_token_is_refused(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    assert upload(browser, idea_id, webp(), csrf=False).status_code == 403
    assert photo_rows(factory) == [] and stored_files(media_settings) == []


# --- limits -----------------------------------------------------------------------------------


def test_photos_per_idea_are_capped(settings: Settings, tmp_path: Path) -> None:
    capped = dataclasses.replace(settings, media_dir=str(tmp_path / "m"), photos_per_idea=1)
    app = create_app(capped)
    try:
        factory = app.state.session_factory
        author = make_user(factory, "author@example.org")
        idea = new_idea(factory, author, "Фонари в парке", "Нужно больше света вечером у прудов.")
        browser = signed_in(app, "author@example.org")
        assert upload(browser, idea, webp()).status_code == 303
        response = upload(browser, idea, png_with_transparency(), "p.png", "image/png")
        assert response.status_code == 422
        assert "An idea can have at most 1 photos" in response.text
        assert len(photo_rows(factory)) == 1
    finally:
        app.state.engine.dispose()


def test_uploads_are_rate_limited(settings: Settings, tmp_path: Path) -> None:
    limited = dataclasses.replace(settings, media_dir=str(tmp_path / "m"), photo_rate_limit=1)
    app = create_app(limited)
    try:
        factory = app.state.session_factory
        author = make_user(factory, "author@example.org")
        idea = new_idea(factory, author, "Фонари в парке", "Нужно больше света вечером у прудов.")
        browser = signed_in(app, "author@example.org")
        assert upload(browser, idea, webp()).status_code == 303
        response = upload(browser, idea, png_with_transparency(), "p.png", "image/png")
        assert response.status_code == 429
        assert "retry-after" in response.headers
        assert len(photo_rows(factory)) == 1
    finally:
        app.state.engine.dispose()


def test_a_description_too_long_or_with_hidden_characters_is_refused(
    photo_app: Starlette, factory: Any, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    for alt in ("д" * 301, "Двор \u202eсейчас"):  # too long; a direction override
        response = upload(browser, idea_id, webp(), alt=alt)
        assert response.status_code == 422
        assert 'id="alt-error"' in response.text
    assert photo_rows(factory) == []


# --- shown and served -------------------------------------------------------------------------


def test_the_idea_page_shows_the_photos_with_their_descriptions(
    photo_app: Starlette, factory: Any, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    assert upload(browser, idea_id, webp(), alt="Двор сейчас").status_code == 303
    assert (
        upload(browser, idea_id, png_with_transparency(), "p.png", "image/png").status_code == 303
    )
    described, plain = photo_rows(factory)
    page = Browser(photo_app).get(f"/ideas/{idea_id}", headers=EN).text
    assert f'src="/media/{described.key}-thumb.jpg" alt="Двор сейчас"' in page
    assert f'href="/media/{described.key}.jpg"' in page
    # without a description the alt text names the idea
    assert (
        f'src="/media/{plain.key}-thumb.jpg" alt="Photo for the idea “Скамейки во дворе на Тверской”"'
        in page
    )


def test_media_are_served_long_cached_and_never_sniffed(
    photo_app: Starlette, factory: Any, idea_id: int
) -> None:
    browser = signed_in(photo_app, "author@example.org")
    assert upload(browser, idea_id, webp()).status_code == 303
    [row] = photo_rows(factory)
    anonymous = Browser(photo_app)
    for name in (f"{row.key}.jpg", f"{row.key}-thumb.jpg"):
        response = anonymous.get(f"/media/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in response.headers["cache-control"]
        assert "max-age=31536000" in response.headers["cache-control"]
        assert response.content[:3] == b"\xff\xd8\xff"
    for bad in (
        "0" * 64 + ".jpg",
        row.key + ".png",
        "..%2F..%2Fveche.db",
        row.key.upper() + ".jpg",
    ):
        assert anonymous.get(f"/media/{bad}").status_code == 404


def test_the_store_refuses_keys_that_are_not_hashes(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    for key in ("../x", "a" * 63, "A" * 64, ""):
        with pytest.raises(ValueError):
            store.path(key)
    image = process_image(webp(), max_pixels=1_000_000)
    key = store.put(image)
    assert re.fullmatch(r"[0-9a-f]{64}", key) and store.exists(key)
    assert not any(p.name.startswith(".upload-") for p in tmp_path.iterdir())
    store.discard(key)
    assert not store.exists(key)


def test_big_pictures_are_scaled_to_2048_and_thumbnails_to_480() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), (90, 90, 90)).save(out, "PNG")
    image = process_image(out.getvalue(), max_pixels=40_000_000)
    assert (image.width, image.height) == (2048, 512)
    with Image.open(io.BytesIO(image.thumb)) as thumb:
        assert thumb.size == (480, 120)


def _encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        lambda: _encoded(Image.new("CMYK", (32, 24), (0, 255, 255, 0)), "JPEG"),
        lambda: _encoded(Image.new("L", (32, 24), 128), "JPEG"),
        lambda: _encoded(Image.new("I;16", (32, 24), 40_000), "PNG"),
        lambda: _encoded(Image.new("LA", (32, 24), (90, 0)), "PNG"),
        lambda: _encoded(Image.new("P", (32, 24), 3), "PNG", transparency=3),
        lambda: _encoded(Image.new("1", (32, 24), 1), "PNG"),
        lambda: _encoded(Image.new("RGBA", (32, 24), (0, 0, 255, 128)), "WEBP", lossless=True),
        lambda: _encoded(
            Image.new("RGB", (32, 24)),
            "PNG",
            save_all=True,
            append_images=[Image.new("RGB", (32, 24), (255, 0, 0))],
        ),  # an animated PNG: its first frame
    ],
    ids=[
        "cmyk-jpeg",
        "grey-jpeg",
        "16-bit-png",
        "grey-alpha-png",
        "palette-png",
        "1-bit-png",
        "webp-alpha",
        "animated-png",
    ],
)
def test_every_kind_of_picture_ends_as_a_plain_rgb_jpeg(make: Any) -> None:
    image = process_image(make(), max_pixels=1_000_000)
    with Image.open(io.BytesIO(image.data)) as stored:
        assert (stored.format, stored.mode, stored.size) == ("JPEG", "RGB", (32, 24))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",  # a GIF: not among the accepted formats
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.4\n",
    ],
    ids=["empty", "gif", "svg", "pdf"],
)
def test_what_is_not_a_jpeg_png_or_webp_is_refused(content: bytes) -> None:
    with pytest.raises(ImageRejected):
        process_image(content, max_pixels=1_000_000)


def test_a_truncated_picture_is_refused() -> None:
    whole = noise_jpeg(120)
    with pytest.raises(ImageRejected):
        process_image(whole[: len(whole) // 2], max_pixels=1_000_000)


def test_officials_show_the_building_of_an_idea_the_city_took_on(
    photo_app: Starlette, factory: Any, media_settings: Settings, idea_id: int
) -> None:
    official = make_user(factory, "official@example.org", role="official")
    browser = signed_in(photo_app, "official@example.org")
    assert upload(browser, idea_id, webp()).status_code == 403  # not taken on: the author's
    assert photo_rows(factory) == []
    with transaction(factory) as session:
        idea = session.get(Idea, idea_id)
        assert idea is not None
        idea.status = "in_progress"
    assert upload(browser, idea_id, webp()).status_code == 303
    with factory() as session:
        [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "idea.photo_add"))
    assert (entry.actor_id, entry.target_id) == (official.id, idea_id)
