"""Decode an uploaded image and re-encode it as a plain JPEG: the only bytes ever stored.

Every check is made on the decoded picture, never on the file's name or declared type:

1. Pillow identifies the format from the bytes, and only JPEG, PNG and WebP are opened
   (``ACCEPTED_FORMATS``; HEIC would need a plugin with a native library, so it is refused).
2. The pixel count is read from the header and refused above ``max_pixels`` *before* the pixels
   are decoded (a 50 KB PNG can hold a 20,000 × 20,000 picture: a decompression bomb).
3. The picture is decoded (a truncated or corrupt file fails here), turned upright by its EXIF
   orientation, flattened onto white where transparent and converted to RGB.
4. It is scaled to fit ``MAX_SIDE`` (and a copy to ``THUMB_SIDE``) and saved as a new JPEG with
   no EXIF (so no GPS position or camera serial), no ICC profile, no comment: nothing of the
   original file but its pixels.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from webapp.kernel.errors import N_

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_SIDE = 2048  # pixels: the longest side of a stored photo
THUMB_SIDE = 480  # pixels: the longest side of its thumbnail
JPEG_QUALITY = 85
THUMB_QUALITY = 80

# What Pillow raises on bytes that are not a whole, sane image of an accepted format.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
)


class ImageRejected(Exception):
    """The upload is not an acceptable image; ``message`` is an English message id."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


NOT_AN_IMAGE = N_("This file is not a photo we can read. Please send a JPEG, PNG or WebP image.")
TOO_MANY_PIXELS = N_(
    "This picture is too large (%(width)s × %(height)s pixels). "
    "Please send one of at most %(megapixels)s megapixels."
)
EMPTY_FILE = N_("The file is empty.")


@dataclass(frozen=True)
class ProcessedImage:
    """A re-encoded picture: ``data`` (JPEG, at most MAX_SIDE) and ``thumb`` (THUMB_SIDE)."""

    data: bytes
    thumb: bytes
    width: int
    height: int

    @property
    def key(self) -> str:
        """The SHA-256 of ``data`` in hex: the picture's name in the media store."""
        return hashlib.sha256(self.data).hexdigest()


def process_image(raw: bytes, max_pixels: int) -> ProcessedImage:
    """Decode ``raw``, check it, and re-encode it; ImageRejected when it is not acceptable.

    CPU-bound (tens of milliseconds for a phone photo): call it off the event loop.
    """
    if not raw:
        raise ImageRejected(EMPTY_FILE)
    try:
        # formats= limits the decoders tried to these; a text file or an SVG matches none.
        # Pillow's own bomb check (Image.MAX_IMAGE_PIXELS) runs here too, above ours.
        image = Image.open(io.BytesIO(raw), formats=list(ACCEPTED_FORMATS))
    except _DECODE_ERRORS as exc:
        raise ImageRejected(NOT_AN_IMAGE) from exc
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageRejected(NOT_AN_IMAGE)
        if width * height > max_pixels:
            raise ImageRejected(
                TOO_MANY_PIXELS,
                width=width,
                height=height,
                megapixels=max(1, max_pixels // 1_000_000),
            )
        try:
            if image.format == "JPEG":
                # let the decoder scale down by 1/2, 1/4 or 1/8 while reading: less memory
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            picture = _upright_rgb(image)
        except _DECODE_ERRORS as exc:
            raise ImageRejected(NOT_AN_IMAGE) from exc
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    data = _jpeg(picture, JPEG_QUALITY)
    small = picture.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return ProcessedImage(data, _jpeg(small, THUMB_QUALITY), picture.width, picture.height)


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The picture turned by its EXIF orientation, transparency flattened onto white, in RGB."""
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    ):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG: scale to 8 bits
        upright = upright.point(lambda v: v / 256).convert("L")
    return upright.convert("RGB")


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    """``picture`` as a progressive JPEG with no metadata at all."""
    clean = Image.new("RGB", picture.size)
    clean.paste(picture)  # a fresh image: no info dict (EXIF, ICC, comments) to carry over
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()
