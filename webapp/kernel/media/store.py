"""The media store: re-encoded pictures on disk, named by the SHA-256 of their bytes.

``<key>.jpg`` is the picture, ``<key>-thumb.jpg`` its thumbnail. Files are written to a
temporary name in the same folder and renamed into place, so a reader never sees half a file
and two workers storing the same picture at once both end with the same whole file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from webapp.kernel.media.images import ProcessedImage

KEY_PATTERN = re.compile(r"[0-9a-f]{64}")
VARIANTS = {"full": "{key}.jpg", "thumb": "{key}-thumb.jpg"}


class MediaStore:
    """Pictures under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str, variant: str = "full") -> Path:
        """Where picture ``key`` (``full`` or ``thumb``) lives; ValueError for a malformed key."""
        if not KEY_PATTERN.fullmatch(key) or variant not in VARIANTS:
            raise ValueError(f"not a media key: {key!r} ({variant!r})")
        return self.root / VARIANTS[variant].format(key=key)

    def put(self, image: ProcessedImage) -> str:
        """Store ``image`` and its thumbnail (atomically, once per key); return its key."""
        key = image.key
        self.root.mkdir(parents=True, exist_ok=True)
        for variant, data in (("full", image.data), ("thumb", image.thumb)):
            target = self.path(key, variant)
            if not target.exists():
                _write_atomically(target, data)
        return key

    def exists(self, key: str) -> bool:
        return KEY_PATTERN.fullmatch(key) is not None and self.path(key).is_file()

    def discard(self, key: str) -> None:
        """Delete picture ``key`` and its thumbnail (nothing when they are gone already)."""
        for variant in VARIANTS:
            self.path(key, variant).unlink(missing_ok=True)


def _write_atomically(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
