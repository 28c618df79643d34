"""JSON API of polls: results (placeholder: filled by its area)."""

from __future__ import annotations

from webapp.kernel.openapi import Operation

OPERATIONS: tuple[Operation, ...] = ()
