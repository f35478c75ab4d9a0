"""escrow: holds, the double-entry ledger, provider calls, chargebacks, payout accounts, the simulated provider

On PostgreSQL the database also guards the ledger: a deferred constraint trigger checks that every transaction's
entries sum to zero per currency at commit, and triggers refuse any UPDATE or DELETE of ledger entries and
transactions (SQLite gets the UPDATE/DELETE refusal too; its balance check is the application's).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = [
    """
    CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bad record;
    BEGIN
        SELECT currency, SUM(amount) AS total INTO bad
        FROM ledger_entry WHERE transaction_id = NEW.transaction_id
        GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % does not balance in %: %', NEW.transaction_id, bad.currency, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON ledger_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances()
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
]
PG_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction",
    "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
    "DROP FUNCTION IF EXISTS ledger_transaction_balances()",
]
SQLITE_UP = [
    f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {what} on {table} refused'); END"
    for table in ("ledger_entry", "ledger_transaction")
    for what in ("UPDATE", "DELETE")
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_no_{what.lower()}"
    for table in ("ledger_entry", "ledger_transaction")
    for what in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table('deferred_provider_object',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('depends_on_ref', sa.String(length=255), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('applied_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deferred_provider_object')),
    sa.UniqueConstraint('ref', name=op.f('uq_deferred_provider_object_ref'))
    )
    op.create_index(op.f('ix_deferred_provider_object_depends_on_ref'), 'deferred_provider_object', ['depends_on_ref'], unique=False)
    op.create_table('ledger_account',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('code', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.Enum('asset', 'liability', 'revenue', 'expense', name='accountkind', native_enum=False, length=16), nullable=False),
    sa.Column('holding', sa.Boolean(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_account')),
    sa.UniqueConstraint('code', 'currency', name=op.f('uq_ledger_account_code'))
    )
    op.create_table('simulated_fault',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_fault'))
    )
    op.create_index(op.f('ix_simulated_fault_operation'), 'simulated_fault', ['operation'], unique=False)
    op.create_table('simulated_object',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('params_hash', sa.String(length=64), nullable=True),
    sa.Column('group_key', sa.String(length=255), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_object')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_simulated_object_idempotency_key')),
    sa.UniqueConstraint('ref', name=op.f('uq_simulated_object_ref'))
    )
    op.create_index(op.f('ix_simulated_object_group_key'), 'simulated_object', ['group_key'], unique=False)
    op.create_table('payout_account',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('creator_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('account_ref', sa.String(length=255), nullable=True),
    sa.Column('transfers_active', sa.Boolean(), nullable=False),
    sa.Column('details_submitted', sa.Boolean(), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('requirements_due', sa.JSON(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], name=op.f('fk_payout_account_creator_id_creator'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_account')),
    sa.UniqueConstraint('account_ref', name=op.f('uq_payout_account_account_ref')),
    sa.UniqueConstraint('creator_id', name=op.f('uq_payout_account_creator_id'))
    )
    op.create_table('escrow_hold',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('collaboration_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('brand_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('creator_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('creator_amount', sa.BigInteger(), nullable=False),
    sa.Column('platform_fee_amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('awaiting_funding', 'funding', 'funding_failed', 'funded', 'release_pending', 'released', 'refund_pending', 'refunded', 'frozen', 'split_pending', 'settled', 'cancelled', name='escrowstate', native_enum=False, length=24), nullable=False),
    sa.Column('resume_status', sa.String(length=24), nullable=True),
    sa.Column('status_changed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('funded_amount', sa.BigInteger(), nullable=False),
    sa.Column('released_creator_amount', sa.BigInteger(), nullable=False),
    sa.Column('released_fee_amount', sa.BigInteger(), nullable=False),
    sa.Column('refunded_amount', sa.BigInteger(), nullable=False),
    sa.Column('charged_back_amount', sa.BigInteger(), nullable=False),
    sa.Column('reserved_amount', sa.BigInteger(), nullable=False),
    sa.Column('provider_fee_amount', sa.BigInteger(), nullable=False),
    sa.Column('funding_seq', sa.Integer(), nullable=False),
    sa.Column('release_seq', sa.Integer(), nullable=False),
    sa.Column('refund_seq', sa.Integer(), nullable=False),
    sa.Column('split_seq', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('funding_ref', sa.String(length=255), nullable=True),
    sa.Column('charge_ref', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.String(length=2000), nullable=True),
    sa.Column('funded_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('freeze_requested_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('last_message', sa.String(length=500), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint('creator_amount >= 0 AND platform_fee_amount >= 0', name=op.f('ck_escrow_hold_amounts_not_negative')),
    sa.CheckConstraint('released_creator_amount + released_fee_amount + refunded_amount + charged_back_amount + reserved_amount <= funded_amount', name=op.f('ck_escrow_hold_never_more_out_than_in')),
    sa.CheckConstraint('reserved_amount >= 0', name=op.f('ck_escrow_hold_reserved_not_negative')),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_escrow_hold_brand_id_brand'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['collaboration_id'], ['collaboration.id'], name=op.f('fk_escrow_hold_collaboration_id_collaboration'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['creator_id'], ['creator.id'], name=op.f('fk_escrow_hold_creator_id_creator'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escrow_hold')),
    sa.UniqueConstraint('collaboration_id', name=op.f('uq_escrow_hold_collaboration_id'))
    )
    op.create_index(op.f('ix_escrow_hold_brand_id'), 'escrow_hold', ['brand_id'], unique=False)
    op.create_index(op.f('ix_escrow_hold_charge_ref'), 'escrow_hold', ['charge_ref'], unique=False)
    op.create_index(op.f('ix_escrow_hold_creator_id'), 'escrow_hold', ['creator_id'], unique=False)
    op.create_index(op.f('ix_escrow_hold_funding_ref'), 'escrow_hold', ['funding_ref'], unique=False)
    op.create_table('chargeback',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('provider_dispute_id', sa.String(length=255), nullable=False),
    sa.Column('charge_ref', sa.String(length=255), nullable=True),
    sa.Column('escrow_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('collaboration_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('from_escrow_amount', sa.BigInteger(), nullable=False),
    sa.Column('reversed_amount', sa.BigInteger(), nullable=False),
    sa.Column('recoverable_amount', sa.BigInteger(), nullable=False),
    sa.Column('opened_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('closed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrow_hold.id'], name=op.f('fk_chargeback_escrow_id_escrow_hold'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chargeback')),
    sa.UniqueConstraint('provider_dispute_id', name=op.f('uq_chargeback_provider_dispute_id'))
    )
    op.create_index(op.f('ix_chargeback_collaboration_id'), 'chargeback', ['collaboration_id'], unique=False)
    op.create_index(op.f('ix_chargeback_escrow_id'), 'chargeback', ['escrow_id'], unique=False)
    op.create_table('escrow_event',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('escrow_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=False),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrow_hold.id'], name=op.f('fk_escrow_event_escrow_id_escrow_hold'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escrow_event')),
    sa.UniqueConstraint('escrow_id', 'seq', name=op.f('uq_escrow_event_escrow_id'))
    )
    op.create_table('ledger_transaction',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('phase', sa.Enum('single', 'pending', 'post', 'void', name='phase', native_enum=False, length=8), nullable=False),
    sa.Column('pending_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('escrow_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('collaboration_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('provider_ref', sa.String(length=255), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrow_hold.id'], name=op.f('fk_ledger_transaction_escrow_id_escrow_hold'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pending_id'], ['ledger_transaction.id'], name=op.f('fk_ledger_transaction_pending_id_ledger_transaction'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transaction')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transaction_idempotency_key')),
    sa.UniqueConstraint('pending_id', name=op.f('uq_ledger_transaction_pending_id'))
    )
    op.create_index(op.f('ix_ledger_transaction_collaboration_id'), 'ledger_transaction', ['collaboration_id'], unique=False)
    op.create_index(op.f('ix_ledger_transaction_created_at'), 'ledger_transaction', ['created_at'], unique=False)
    op.create_index(op.f('ix_ledger_transaction_escrow_id'), 'ledger_transaction', ['escrow_id'], unique=False)
    op.create_table('ledger_entry',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('transaction_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('pending', sa.Boolean(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_entry_amount_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_account.id'], name=op.f('fk_ledger_entry_account_id_ledger_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transaction.id'], name=op.f('fk_ledger_entry_transaction_id_ledger_transaction'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry'))
    )
    op.create_index('ix_ledger_entry_account_pending', 'ledger_entry', ['account_id', 'pending'], unique=False)
    op.create_index(op.f('ix_ledger_entry_transaction_id'), 'ledger_entry', ['transaction_id'], unique=False)
    op.create_table('provider_call',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('escrow_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('creator_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('pending_transaction_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'ready', 'succeeded', 'failed', name='callstatus', native_enum=False, length=16), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('last_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('next_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('result_ref', sa.String(length=255), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('completed_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['escrow_id'], ['escrow_hold.id'], name=op.f('fk_provider_call_escrow_id_escrow_hold'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pending_transaction_id'], ['ledger_transaction.id'], name=op.f('fk_provider_call_pending_transaction_id_ledger_transaction'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_call')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_provider_call_idempotency_key'))
    )
    op.create_index(op.f('ix_provider_call_creator_id'), 'provider_call', ['creator_id'], unique=False)
    op.create_index(op.f('ix_provider_call_escrow_id'), 'provider_call', ['escrow_id'], unique=False)
    op.create_index(op.f('ix_provider_call_result_ref'), 'provider_call', ['result_ref'], unique=False)
    op.create_index('ix_provider_call_status_next', 'provider_call', ['status', 'next_attempt_at'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in PG_UP if dialect == "postgresql" else SQLITE_UP if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in PG_DOWN if dialect == "postgresql" else SQLITE_DOWN if dialect == "sqlite" else []:
        op.execute(statement)
    op.drop_index('ix_provider_call_status_next', table_name='provider_call')
    op.drop_index(op.f('ix_provider_call_result_ref'), table_name='provider_call')
    op.drop_index(op.f('ix_provider_call_escrow_id'), table_name='provider_call')
    op.drop_index(op.f('ix_provider_call_creator_id'), table_name='provider_call')
    op.drop_table('provider_call')
    op.drop_index(op.f('ix_ledger_entry_transaction_id'), table_name='ledger_entry')
    op.drop_index('ix_ledger_entry_account_pending', table_name='ledger_entry')
    op.drop_table('ledger_entry')
    op.drop_index(op.f('ix_ledger_transaction_escrow_id'), table_name='ledger_transaction')
    op.drop_index(op.f('ix_ledger_transaction_created_at'), table_name='ledger_transaction')
    op.drop_index(op.f('ix_ledger_transaction_collaboration_id'), table_name='ledger_transaction')
    op.drop_table('ledger_transaction')
    op.drop_table('escrow_event')
    op.drop_index(op.f('ix_chargeback_escrow_id'), table_name='chargeback')
    op.drop_index(op.f('ix_chargeback_collaboration_id'), table_name='chargeback')
    op.drop_table('chargeback')
    op.drop_index(op.f('ix_escrow_hold_funding_ref'), table_name='escrow_hold')
    op.drop_index(op.f('ix_escrow_hold_creator_id'), table_name='escrow_hold')
    op.drop_index(op.f('ix_escrow_hold_charge_ref'), table_name='escrow_hold')
    op.drop_index(op.f('ix_escrow_hold_brand_id'), table_name='escrow_hold')
    op.drop_table('escrow_hold')
    op.drop_table('payout_account')
    op.drop_index(op.f('ix_simulated_object_group_key'), table_name='simulated_object')
    op.drop_table('simulated_object')
    op.drop_index(op.f('ix_simulated_fault_operation'), table_name='simulated_fault')
    op.drop_table('simulated_fault')
    op.drop_table('ledger_account')
    op.drop_index(op.f('ix_deferred_provider_object_depends_on_ref'), table_name='deferred_provider_object')
    op.drop_table('deferred_provider_object')
