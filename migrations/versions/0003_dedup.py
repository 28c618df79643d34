"""dedup: idea embeddings, duplicate pairs and candidate duplicate groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:10:49.080349
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idea_embeddings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_hash", sa.String(length=40), nullable=False),
        sa.Column("idea_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_idea_embeddings_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_embeddings")),
        sa.UniqueConstraint("idea_id", name=op.f("uq_idea_embeddings_idea_id")),
        sqlite_autoincrement=True,  # ids never reused: workers poll new vectors by id
    )
    op.create_table(
        "duplicate_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_a", sa.Integer(), nullable=False),
        sa.Column("idea_b", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("idea_a < idea_b", name=op.f("ck_duplicate_pairs_ordered")),
        sa.ForeignKeyConstraint(
            ["idea_a"], ["ideas.id"], name=op.f("fk_duplicate_pairs_idea_a_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["idea_b"], ["ideas.id"], name=op.f("fk_duplicate_pairs_idea_b_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_pairs")),
        sa.UniqueConstraint("idea_a", "idea_b", name="uq_duplicate_pairs_idea_a_idea_b"),
    )
    op.create_index(op.f("ix_duplicate_pairs_idea_b"), "duplicate_pairs", ["idea_b"])
    op.create_table(
        "duplicate_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'merged')", name=op.f("ck_duplicate_groups_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_groups")),
    )
    op.create_index(
        "ix_duplicate_groups_status_score", "duplicate_groups", ["status", "score"]
    )
    op.create_table(
        "duplicate_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["duplicate_groups.id"],
            name=op.f("fk_duplicate_group_members_group_id_duplicate_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_duplicate_group_members_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "idea_id", name=op.f("pk_duplicate_group_members")),
    )
    op.create_index(
        op.f("ix_duplicate_group_members_idea_id"), "duplicate_group_members", ["idea_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_duplicate_group_members_idea_id"), table_name="duplicate_group_members")
    op.drop_table("duplicate_group_members")
    op.drop_index("ix_duplicate_groups_status_score", table_name="duplicate_groups")
    op.drop_table("duplicate_groups")
    op.drop_index(op.f("ix_duplicate_pairs_idea_b"), table_name="duplicate_pairs")
    op.drop_table("duplicate_pairs")
    op.drop_table("idea_embeddings")
