"""moderation and officials: merges, dismissed pairs, signal reviews, responses, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:21:10.221645
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dismissed_pairs',
    sa.Column('idea_a', sa.Integer(), nullable=False),
    sa.Column('idea_b', sa.Integer(), nullable=False),
    sa.Column('text_hash_a', sa.String(length=40), nullable=False),
    sa.Column('text_hash_b', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('idea_a < idea_b', name=op.f('ck_dismissed_pairs_ordered')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_dismissed_pairs_actor_id_users')),
    sa.ForeignKeyConstraint(['idea_a'], ['ideas.id'], name=op.f('fk_dismissed_pairs_idea_a_ideas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['idea_b'], ['ideas.id'], name=op.f('fk_dismissed_pairs_idea_b_ideas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('idea_a', 'idea_b', name=op.f('pk_dismissed_pairs'))
    )
    with op.batch_alter_table('dismissed_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dismissed_pairs_idea_b'), ['idea_b'], unique=False)

    op.create_table('idea_merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('canonical_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('undo_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_idea_merges_actor_id_users')),
    sa.ForeignKeyConstraint(['canonical_id'], ['ideas.id'], name=op.f('fk_idea_merges_canonical_id_ideas')),
    sa.ForeignKeyConstraint(['group_id'], ['duplicate_groups.id'], name=op.f('fk_idea_merges_group_id_duplicate_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_idea_merges_undone_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idea_merges'))
    )
    with op.batch_alter_table('idea_merges', schema=None) as batch_op:
        batch_op.create_index('ix_idea_merges_canonical', ['canonical_id', 'created_at'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_state', sa.String(length=10), nullable=True),
    sa.Column('email_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_next_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_notifications_idea_id_ideas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_email_state', ['email_state', 'id'], unique=False)
        batch_op.create_index('ix_notifications_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    op.create_table('official_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_official_responses_author_id_users')),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_official_responses_idea_id_ideas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_responses'))
    )
    with op.batch_alter_table('official_responses', schema=None) as batch_op:
        batch_op.create_index('ix_official_responses_idea_created', ['idea_id', 'created_at'], unique=False)

    op.create_table('signal_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('confirmed', 'lifted')", name=op.f('ck_signal_reviews_decision')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_signal_reviews_actor_id_users')),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_signal_reviews_idea_id_ideas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_reviews'))
    )
    with op.batch_alter_table('signal_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_signal_reviews_idea_created', ['idea_id', 'created_at'], unique=False)

    op.create_table('idea_merge_members',
    sa.Column('merge_id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=False),
    sa.Column('previous_merged_into_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_idea_merge_members_idea_id_ideas')),
    sa.ForeignKeyConstraint(['merge_id'], ['idea_merges.id'], name=op.f('fk_idea_merge_members_merge_id_idea_merges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_merged_into_id'], ['ideas.id'], name=op.f('fk_idea_merge_members_previous_merged_into_id_ideas')),
    sa.PrimaryKeyConstraint('merge_id', 'idea_id', name=op.f('pk_idea_merge_members'))
    )
    with op.batch_alter_table('idea_merge_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idea_merge_members_idea_id'), ['idea_id'], unique=False)

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('auto_hidden', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('moved_from_idea_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('moved_by_merge_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_comments_moved_by_merge_id'), ['moved_by_merge_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_comments_moved_from_idea_id_ideas'), 'ideas', ['moved_from_idea_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_comments_moved_by_merge_id_idea_merges'), 'idea_merges', ['moved_by_merge_id'], ['id'])

    with op.batch_alter_table('ideas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('status_before_hide', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('auto_hidden', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('threshold_reached_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('email_notifications', sa.Boolean(), server_default='1', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_notifications')
        batch_op.drop_column('blocked_reason')

    with op.batch_alter_table('ideas', schema=None) as batch_op:
        batch_op.drop_column('threshold_reached_at')
        batch_op.drop_column('responded_at')
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('auto_hidden')
        batch_op.drop_column('status_before_hide')
        batch_op.drop_column('hidden_reason')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_comments_moved_by_merge_id_idea_merges'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_comments_moved_from_idea_id_ideas'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_comments_moved_by_merge_id'))
        batch_op.drop_column('moved_by_merge_id')
        batch_op.drop_column('moved_from_idea_id')
        batch_op.drop_column('auto_hidden')
        batch_op.drop_column('hidden_reason')

    with op.batch_alter_table('idea_merge_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idea_merge_members_idea_id'))

    op.drop_table('idea_merge_members')
    with op.batch_alter_table('signal_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_signal_reviews_idea_created')

    op.drop_table('signal_reviews')
    with op.batch_alter_table('official_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_official_responses_idea_created')

    op.drop_table('official_responses')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')
        batch_op.drop_index('ix_notifications_user_created')
        batch_op.drop_index('ix_notifications_email_state')

    op.drop_table('notifications')
    with op.batch_alter_table('idea_merges', schema=None) as batch_op:
        batch_op.drop_index('ix_idea_merges_canonical')

    op.drop_table('idea_merges')
    with op.batch_alter_table('dismissed_pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dismissed_pairs_idea_b'))

    op.drop_table('dismissed_pairs')
