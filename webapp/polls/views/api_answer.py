"""JSON API of polls: answer (placeholder: filled by its area)."""

from __future__ import annotations

from webapp.kernel.openapi import Operation

OPERATIONS: tuple[Operation, ...] = ()
