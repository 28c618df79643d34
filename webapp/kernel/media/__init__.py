"""The one image pipeline for files strangers upload (idea photos now, problem reports later).

``images.process_image`` decodes, checks, orients, strips and re-encodes an upload;
``store.MediaStore`` keeps the result on disk under the SHA-256 of its bytes. Neither knows HTTP
or the database: views stream the upload in with a byte cap, use-cases record the keys.
"""

from __future__ import annotations

from webapp.kernel.media.images import (
    ACCEPTED_FORMATS,
    MAX_SIDE,
    THUMB_SIDE,
    ImageRejected,
    ProcessedImage,
    process_image,
)
from webapp.kernel.media.store import KEY_PATTERN, MediaStore

__all__ = [
    "ACCEPTED_FORMATS",
    "KEY_PATTERN",
    "MAX_SIDE",
    "THUMB_SIDE",
    "ImageRejected",
    "MediaStore",
    "ProcessedImage",
    "process_image",
]
