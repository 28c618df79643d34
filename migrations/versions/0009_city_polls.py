"""city polls

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:53:17.304266
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title_ru", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), server_default="", nullable=False),
        sa.Column("description_ru", sa.Text(), server_default="", nullable=False),
        sa.Column("description_en", sa.Text(), server_default="", nullable=False),
        sa.Column("image_key", sa.String(length=64), nullable=True),
        sa.Column("image_alt", sa.String(length=300), server_default="", nullable=False),
        sa.Column("verified_only", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("results_live", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("allow_change", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("points", sa.Integer(), server_default="0", nullable=False),
        sa.Column("published", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("simulated", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_polls_dates")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_polls_points")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_polls_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_polls_external_ref")),
        sa.UniqueConstraint("slug", name=op.f("uq_polls_slug")),
    )
    op.create_table(
        "poll_districts",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_poll_districts_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_districts_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "district_id", name=op.f("pk_poll_districts")),
    )
    op.create_table(
        "poll_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text_ru", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), server_default="", nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=True),
        sa.Column("scale_min", sa.Integer(), nullable=True),
        sa.Column("scale_max", sa.Integer(), nullable=True),
        sa.Column("allow_other", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("required", sa.Boolean(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('single', 'multiple', 'scale', 'ranking')",
            name=op.f("ck_poll_questions_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_questions_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_questions")),
    )
    with op.batch_alter_table("poll_questions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_poll_questions_poll_position", ["poll_id", "position"], unique=False
        )

    op.create_table(
        "poll_responses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_poll_responses_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_responses_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_poll_responses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_responses")),
        sa.UniqueConstraint("poll_id", "user_id", name="uq_poll_responses_poll_user"),
    )
    with op.batch_alter_table("poll_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_poll_responses_poll_created", ["poll_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_poll_responses_user", ["user_id"], unique=False)

    op.create_table(
        "poll_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text_ru", sa.String(length=500), nullable=False),
        sa.Column("text_en", sa.String(length=500), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["poll_questions.id"],
            name=op.f("fk_poll_options_question_id_poll_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_options")),
    )
    with op.batch_alter_table("poll_options", schema=None) as batch_op:
        batch_op.create_index(
            "ix_poll_options_question_position", ["question_id", "position"], unique=False
        )

    op.create_table(
        "poll_answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("other_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["poll_options.id"],
            name=op.f("fk_poll_answers_option_id_poll_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["poll_questions.id"],
            name=op.f("fk_poll_answers_question_id_poll_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["poll_responses.id"],
            name=op.f("fk_poll_answers_response_id_poll_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_answers")),
    )
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_poll_answers_question_option", ["question_id", "option_id"], unique=False
        )
        batch_op.create_index("ix_poll_answers_response", ["response_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_answers_response")
        batch_op.drop_index("ix_poll_answers_question_option")

    op.drop_table("poll_answers")
    with op.batch_alter_table("poll_options", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_options_question_position")

    op.drop_table("poll_options")
    with op.batch_alter_table("poll_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_responses_user")
        batch_op.drop_index("ix_poll_responses_poll_created")

    op.drop_table("poll_responses")
    with op.batch_alter_table("poll_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_questions_poll_position")

    op.drop_table("poll_questions")
    op.drop_table("poll_districts")
    op.drop_table("polls")
