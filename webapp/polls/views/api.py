"""The polls' JSON API operations, joined from each area's module."""

from __future__ import annotations

from webapp.kernel.openapi import Operation
from webapp.polls.views import api_answer, api_results

OPERATIONS: tuple[Operation, ...] = (*api_answer.OPERATIONS, *api_results.OPERATIONS)
