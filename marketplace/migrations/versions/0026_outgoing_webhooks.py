"""outgoing webhooks: endpoints (encrypted signing secrets), events, deliveries with their retry schedule, attempts

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.create_table('hook_endpoint',
        sa.Column('id', GUID(length=16), nullable=False),
        sa.Column('brand_id', GUID(length=16), nullable=True),
        sa.Column('creator_id', GUID(length=16), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret_enc', sa.Text(), nullable=False),
        sa.Column('secret_hint', sa.String(length=8), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC(timezone=True), nullable=False),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.CheckConstraint('(brand_id IS NULL) <> (creator_id IS NULL)', name=op.f('ck_hook_endpoint_one_owner')),
        sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_hook_endpoint_brand_id_brand'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], name=op.f('fk_hook_endpoint_creator_id_creator'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_endpoint'))
    )
    op.create_index(op.f('ix_hook_endpoint_brand_id'), 'hook_endpoint', ['brand_id'], unique=False)
    op.create_index(op.f('ix_hook_endpoint_creator_id'), 'hook_endpoint', ['creator_id'], unique=False)
    op.create_table('hook_event',
        sa.Column('id', GUID(length=16), nullable=False),
        sa.Column('kind', sa.String(length=60), nullable=False),
        sa.Column('source_key', sa.String(length=200), nullable=False),
        sa.Column('occurred_at', UTC(timezone=True), nullable=False),
        sa.Column('brand_id', GUID(length=16), nullable=True),
        sa.Column('creator_id', GUID(length=16), nullable=True),
        sa.Column('collaboration_id', GUID(length=16), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC(timezone=True), nullable=False),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_hook_event_brand_id_brand'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], name=op.f('fk_hook_event_creator_id_creator'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_event')),
        sa.UniqueConstraint('source_key', name=op.f('uq_hook_event_source_key'))
    )
    op.create_index(op.f('ix_hook_event_occurred_at'), 'hook_event', ['occurred_at'], unique=False)
    op.create_table('hook_delivery',
        sa.Column('id', GUID(length=16), nullable=False),
        sa.Column('endpoint_id', GUID(length=16), nullable=False),
        sa.Column('event_id', GUID(length=16), nullable=False),
        sa.Column('status', sa.Enum('pending', 'delivered', 'failed', name='deliverystatus', native_enum=False, length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTC(timezone=True), nullable=True),
        sa.Column('give_up_at', UTC(timezone=True), nullable=False),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('delivered_at', UTC(timezone=True), nullable=True),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC(timezone=True), nullable=False),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['endpoint_id'], ['hook_endpoint.id'], name=op.f('fk_hook_delivery_endpoint_id_hook_endpoint'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['hook_event.id'], name=op.f('fk_hook_delivery_event_id_hook_event'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_delivery')),
        sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_hook_delivery_endpoint_event')
    )
    op.create_index('ix_hook_delivery_due', 'hook_delivery', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_hook_delivery_endpoint_id'), 'hook_delivery', ['endpoint_id'], unique=False)
    op.create_index(op.f('ix_hook_delivery_event_id'), 'hook_delivery', ['event_id'], unique=False)
    op.create_table('hook_attempt',
        sa.Column('id', GUID(length=16), nullable=False),
        sa.Column('delivery_id', GUID(length=16), nullable=False),
        sa.Column('attempted_at', UTC(timezone=True), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('manual', sa.Boolean(), nullable=False),
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC(timezone=True), nullable=False),
        sa.Column('updated_at', UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['hook_delivery.id'], name=op.f('fk_hook_attempt_delivery_id_hook_delivery'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_attempt'))
    )
    op.create_index(op.f('ix_hook_attempt_delivery_id'), 'hook_attempt', ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_table("hook_attempt")
    op.drop_table("hook_delivery")
    op.drop_table("hook_event")
    op.drop_table("hook_endpoint")
