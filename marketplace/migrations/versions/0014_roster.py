"""the brand's roster (CRM): entries, tags, lists, custom fields, saved views, imports and their saved mapping

Emails and handles are unique per brand (NULLs never collide), which is how imports deduplicate.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('roster_field',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_field_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_field')),
    sa.UniqueConstraint('brand_id', 'key', name='uq_roster_field_brand_key')
    )
    op.create_table('roster_import_mapping',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_import_mapping_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_import_mapping')),
    sa.UniqueConstraint('brand_id', name=op.f('uq_roster_import_mapping_brand_id'))
    )
    op.create_table('roster_list',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_list_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_list')),
    sa.UniqueConstraint('brand_id', 'name', name='uq_roster_list_brand_name')
    )
    op.create_table('roster_tag',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_tag_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_tag')),
    sa.UniqueConstraint('brand_id', 'name', name='uq_roster_tag_brand_name')
    )
    op.create_table('roster_view',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.String(length=2000), nullable=False),
    sa.Column('created_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_view_brand_id_brand'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_roster_view_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_view')),
    sa.UniqueConstraint('brand_id', 'name', name='uq_roster_view_brand_name')
    )
    op.create_table('roster_entry',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('creator_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('followers', sa.BigInteger(), nullable=False),
    sa.Column('tiktok', sa.String(length=100), nullable=True),
    sa.Column('instagram', sa.String(length=100), nullable=True),
    sa.Column('youtube', sa.String(length=100), nullable=True),
    sa.Column('owner_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('custom_fields', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('last_contact_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('invited_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_entry_brand_id_brand'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], name=op.f('fk_roster_entry_creator_id_creator'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_roster_entry_owner_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_entry')),
    sa.UniqueConstraint('brand_id', 'creator_id', name='uq_roster_entry_brand_creator'),
    sa.UniqueConstraint('brand_id', 'email', name='uq_roster_entry_brand_email'),
    sa.UniqueConstraint('brand_id', 'instagram', name='uq_roster_entry_brand_instagram'),
    sa.UniqueConstraint('brand_id', 'tiktok', name='uq_roster_entry_brand_tiktok'),
    sa.UniqueConstraint('brand_id', 'youtube', name='uq_roster_entry_brand_youtube')
    )
    op.create_index('ix_roster_entry_brand_country', 'roster_entry', ['brand_id', 'country'], unique=False)
    op.create_index('ix_roster_entry_brand_followers', 'roster_entry', ['brand_id', 'followers', 'id'], unique=False)
    op.create_index('ix_roster_entry_brand_name', 'roster_entry', ['brand_id', 'name', 'id'], unique=False)
    op.create_table('roster_import',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('created_by_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('gig_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('imported_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_roster_import_brand_id_brand'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_roster_import_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gig_id'], ['gig.id'], name=op.f('fk_roster_import_gig_id_gig'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_import'))
    )
    op.create_index(op.f('ix_roster_import_brand_id'), 'roster_import', ['brand_id'], unique=False)
    op.create_table('roster_entry_tag',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tag_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['roster_entry.id'], name=op.f('fk_roster_entry_tag_entry_id_roster_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['roster_tag.id'], name=op.f('fk_roster_entry_tag_tag_id_roster_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_entry_tag')),
    sa.UniqueConstraint('entry_id', 'tag_id', name='uq_roster_entry_tag')
    )
    op.create_index('ix_roster_entry_tag_tag', 'roster_entry_tag', ['tag_id', 'entry_id'], unique=False)
    op.create_table('roster_list_member',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('list_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('entry_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['roster_entry.id'], name=op.f('fk_roster_list_member_entry_id_roster_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['roster_list.id'], name=op.f('fk_roster_list_member_list_id_roster_list'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_list_member')),
    sa.UniqueConstraint('list_id', 'entry_id', name='uq_roster_list_member')
    )
    op.create_index(op.f('ix_roster_list_member_entry_id'), 'roster_list_member', ['entry_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_roster_list_member_entry_id'), table_name='roster_list_member')
    op.drop_table('roster_list_member')
    op.drop_index('ix_roster_entry_tag_tag', table_name='roster_entry_tag')
    op.drop_table('roster_entry_tag')
    op.drop_index(op.f('ix_roster_import_brand_id'), table_name='roster_import')
    op.drop_table('roster_import')
    op.drop_index('ix_roster_entry_brand_name', table_name='roster_entry')
    op.drop_index('ix_roster_entry_brand_followers', table_name='roster_entry')
    op.drop_index('ix_roster_entry_brand_country', table_name='roster_entry')
    op.drop_table('roster_entry')
    op.drop_table('roster_view')
    op.drop_table('roster_tag')
    op.drop_table('roster_list')
    op.drop_table('roster_import_mapping')
    op.drop_table('roster_field')
