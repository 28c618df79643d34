"""poll responses: an index on (poll_id, updated_at) for the live tallies' catch-up reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_poll_responses_poll_updated", "poll_responses", ["poll_id", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_poll_responses_poll_updated", table_name="poll_responses")
