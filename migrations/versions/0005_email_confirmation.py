"""e-mail confirmation of new accounts (when Veche sends e-mail)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # false for every existing account (and any row inserted without it): only a
        # registration on a site that sends e-mail sets it, until the link is followed
        batch_op.add_column(
            sa.Column("awaiting_confirmation", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("awaiting_confirmation")
