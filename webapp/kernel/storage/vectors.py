"""How a vector is stored (``idea_embeddings.vector``): float32, little-endian, no header."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def encode(vector: np.ndarray[Any, Any]) -> bytes:
    """A vector as stored: float32, little-endian."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def decode(blob: bytes, dim: int) -> NDArray[np.float32]:
    """A stored vector of ``dim`` numbers; ValueError if the blob holds another number."""
    vec = np.frombuffer(blob, dtype="<f4")
    if vec.size != dim:
        raise ValueError(f"a stored vector has {vec.size} numbers, expected {dim}")
    return vec.astype(np.float32, copy=False)
