"""The campaigns' JSON API operations, joined from each area's module."""

from __future__ import annotations

from webapp.campaigns.views import api_projects, api_results, api_review
from webapp.kernel.openapi import Operation

OPERATIONS: tuple[Operation, ...] = (
    *api_projects.OPERATIONS,
    *api_review.OPERATIONS,
    *api_results.OPERATIONS,
)
