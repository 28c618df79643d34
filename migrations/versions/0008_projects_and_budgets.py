"""projects, stages, budgets, expert evaluations, ballots, results and implementation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 19:22:52.261677
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# A SQLite batch copy of "ideas" (to add a column with a foreign key) drops its triggers: the
# full-text index's triggers of migration 0001 are put back, unchanged.
_SQLITE_FTS_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS ideas_fts_ai AFTER INSERT ON ideas BEGIN "
    "INSERT INTO ideas_fts(rowid, search_doc) VALUES (new.id, new.search_doc); END",
    "CREATE TRIGGER IF NOT EXISTS ideas_fts_ad AFTER DELETE ON ideas BEGIN "
    "INSERT INTO ideas_fts(ideas_fts, rowid, search_doc) "
    "VALUES ('delete', old.id, old.search_doc); END",
    "CREATE TRIGGER IF NOT EXISTS ideas_fts_au AFTER UPDATE OF search_doc ON ideas BEGIN "
    "INSERT INTO ideas_fts(ideas_fts, rowid, search_doc) "
    "VALUES ('delete', old.id, old.search_doc); "
    "INSERT INTO ideas_fts(rowid, search_doc) VALUES (new.id, new.search_doc); END",
)


def _restore_sqlite_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_FTS_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title_ru", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), server_default="", nullable=False),
        sa.Column("description_ru", sa.Text(), server_default="", nullable=False),
        sa.Column("description_en", sa.Text(), server_default="", nullable=False),
        sa.Column("languages", sa.String(length=20), server_default="ru,en", nullable=False),
        sa.Column("cover_key", sa.String(length=64), nullable=True),
        sa.Column("cover_alt", sa.String(length=300), server_default="", nullable=False),
        sa.Column("scope_district_id", sa.Integer(), nullable=True),
        sa.Column("permanent", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("published", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("voting", sa.String(length=20), server_default="supports", nullable=False),
        sa.Column("approval_limit", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=20), server_default="greedy", nullable=False),
        sa.Column("eligibility", sa.String(length=20), server_default="everyone", nullable=False),
        sa.Column("stage_override", sa.String(length=20), nullable=True),
        sa.Column("override_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("results_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("source_note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "eligibility IN ('everyone', 'residents', 'verified')",
            name=op.f("ck_projects_eligibility"),
        ),
        sa.CheckConstraint("rule IN ('greedy', 'equal_shares')", name=op.f("ck_projects_rule")),
        sa.CheckConstraint(
            "stage_override IS NULL OR stage_override IN ('proposals', 'review', 'voting', 'results', 'implementation', 'closed')",
            name=op.f("ck_projects_stage_override"),
        ),
        sa.CheckConstraint(
            "voting IN ('supports', 'approval', 'knapsack')", name=op.f("ck_projects_voting")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_projects_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scope_district_id"],
            ["districts.id"],
            name=op.f("fk_projects_scope_district_id_districts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_projects_external_ref")),
        sa.UniqueConstraint("slug", name=op.f("uq_projects_slug")),
    )
    op.create_table(
        "project_experts",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["users.id"],
            name=op.f("fk_project_experts_assigned_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_experts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_experts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_experts")),
    )
    with op.batch_alter_table("project_experts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_experts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "project_pots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_project_pots_amount")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_project_pots_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_pots_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_pots")),
        sa.UniqueConstraint("project_id", "district_id", name="uq_project_pots_project_district"),
    )
    op.create_table(
        "project_stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "stage IN ('proposals', 'review', 'voting', 'results', 'implementation')",
            name=op.f("ck_project_stages_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_stages_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_stages")),
        sa.UniqueConstraint("project_id", "stage", name="uq_project_stages_project_stage"),
    )
    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pot_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pot_id"],
            ["project_pots.id"],
            name=op.f("fk_ballots_pot_id_project_pots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_ballots_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ballots_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
        sa.UniqueConstraint("pot_id", "user_id", name="uq_ballots_pot_user"),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index("ix_ballots_project_user", ["project_id", "user_id"], unique=False)

    op.create_table(
        "budget_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pot_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("greedy_selected", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_budget_results_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pot_id"],
            ["project_pots.id"],
            name=op.f("fk_budget_results_pot_id_project_pots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budget_results_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_results")),
        sa.UniqueConstraint("pot_id", "idea_id", name="uq_budget_results_pot_idea"),
    )
    with op.batch_alter_table("budget_results", schema=None) as batch_op:
        batch_op.create_index("ix_budget_results_project", ["project_id"], unique=False)

    op.create_table(
        "idea_evaluations",
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=True),
        sa.Column("feasible", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=True),
        sa.Column("department", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cost IS NULL OR cost > 0", name=op.f("ck_idea_evaluations_cost")),
        sa.ForeignKeyConstraint(
            ["expert_id"],
            ["users.id"],
            name=op.f("fk_idea_evaluations_expert_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_idea_evaluations_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_idea_evaluations")),
    )
    op.create_table(
        "idea_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_idea_milestones_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_milestones")),
    )
    with op.batch_alter_table("idea_milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idea_milestones_idea_position", ["idea_id", "position"], unique=False
        )

    op.create_table(
        "idea_progress",
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "percent >= 0 AND percent <= 100", name=op.f("ck_idea_progress_percent")
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_idea_progress_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_idea_progress_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_idea_progress")),
    )
    op.create_table(
        "ballot_choices",
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_ballot_choices_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_ballot_choices_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ballot_id", "idea_id", name=op.f("pk_ballot_choices")),
    )
    with op.batch_alter_table("ballot_choices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_choices_idea_id"), ["idea_id"], unique=False)

    # The permanent idea pool: project 1, always open; every existing idea belongs to it.
    now = datetime.now(UTC)
    projects = sa.table(
        "projects",
        sa.column("id", sa.Integer()),
        sa.column("slug", sa.String()),
        sa.column("title_ru", sa.String()),
        sa.column("title_en", sa.String()),
        sa.column("description_ru", sa.Text()),
        sa.column("description_en", sa.Text()),
        sa.column("permanent", sa.Boolean()),
        sa.column("published", sa.Boolean()),
        sa.column("voting", sa.String()),
        sa.column("rule", sa.String()),
        sa.column("eligibility", sa.String()),
        sa.column("languages", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        projects,
        [
            {
                "id": 1,
                "slug": "ideas",
                "title_ru": "Идеи для города",
                "title_en": "Ideas for the city",
                "description_ru": "Постоянный сбор идей: предлагайте и поддерживайте в любое время.",
                "description_en": "The permanent pool: propose and support ideas at any time.",
                "permanent": True,
                "published": True,
                "voting": "supports",
                "rule": "greedy",
                "eligibility": "everyone",
                "languages": "ru,en",
                "created_at": now.replace(tzinfo=None)
                if op.get_bind().dialect.name == "sqlite"
                else now,
                "updated_at": now.replace(tzinfo=None)
                if op.get_bind().dialect.name == "sqlite"
                else now,
            }
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), 1)")

    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("project_id", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.create_index("ix_ideas_project_status", ["project_id", "status"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_ideas_project_id_projects"), "projects", ["project_id"], ["id"]
        )
    _restore_sqlite_triggers()


def downgrade() -> None:
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ideas_project_id_projects"), type_="foreignkey")
        batch_op.drop_index("ix_ideas_project_status")
        batch_op.drop_column("project_id")
    _restore_sqlite_triggers()

    with op.batch_alter_table("ballot_choices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_choices_idea_id"))

    op.drop_table("ballot_choices")
    op.drop_table("idea_progress")
    with op.batch_alter_table("idea_milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_idea_milestones_idea_position")

    op.drop_table("idea_milestones")
    op.drop_table("idea_evaluations")
    with op.batch_alter_table("budget_results", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_results_project")

    op.drop_table("budget_results")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index("ix_ballots_project_user")

    op.drop_table("ballots")
    op.drop_table("project_stages")
    op.drop_table("project_pots")
    with op.batch_alter_table("project_experts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_experts_user_id"))

    op.drop_table("project_experts")
    op.drop_table("projects")
