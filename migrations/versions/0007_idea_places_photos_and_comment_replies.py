"""idea places, photos and comment replies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:28:17.278772
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idea_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('alt', sa.String(length=300), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['idea_id'], ['ideas.id'], name=op.f('fk_idea_photos_idea_id_ideas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_idea_photos_uploader_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idea_photos'))
    )
    with op.batch_alter_table('idea_photos', schema=None) as batch_op:
        batch_op.create_index('ix_idea_photos_idea_position', ['idea_id', 'position'], unique=False)

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_comments_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_comments_parent_id_comments'), 'comments', ['parent_id'], ['id'], ondelete='SET NULL')

    # plain ADD COLUMN (no batch copy): on SQLite a table copy would drop the ideas' FTS triggers
    op.add_column('ideas', sa.Column('latitude', sa.Float(), nullable=True))
    op.add_column('ideas', sa.Column('longitude', sa.Float(), nullable=True))



def downgrade() -> None:
    op.drop_column('ideas', 'longitude')
    op.drop_column('ideas', 'latitude')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_comments_parent_id_comments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_comments_parent_id'))
        batch_op.drop_column('parent_id')

    with op.batch_alter_table('idea_photos', schema=None) as batch_op:
        batch_op.drop_index('ix_idea_photos_idea_position')

    op.drop_table('idea_photos')
