"""i18n and uploads: users' language and time zone, the language a deal's terms were frozen and signed in, uploaded
creator photos, brand logos, gig product images and creator portfolios

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False))
    with op.batch_alter_table("collaboration") as batch:
        batch.add_column(sa.Column("terms_locale", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("signed_locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("creator") as batch:
        batch.add_column(sa.Column("photo_key", sa.String(length=300), nullable=True))
    with op.batch_alter_table("brand") as batch:
        batch.add_column(sa.Column("logo_key", sa.String(length=300), nullable=True))
    with op.batch_alter_table("gig") as batch:
        batch.add_column(sa.Column("product_image_key", sa.String(length=300), nullable=True))

    op.create_table(
        "portfolio_item",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("creator_id", GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("post_url", sa.String(length=2000), nullable=True),
        sa.Column("image_key", sa.String(length=300), nullable=True),
        sa.Column("collaboration_id", GUID(length=16), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"], name=op.f("fk_portfolio_item_creator_id_creator"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["collaboration_id"], ["collaboration.id"],
                                name=op.f("fk_portfolio_item_collaboration_id_collaboration"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_item")),
        sa.UniqueConstraint("creator_id", "collaboration_id", name="uq_portfolio_item_deal"),
    )
    op.create_index(op.f("ix_portfolio_item_creator_id"), "portfolio_item", ["creator_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portfolio_item_creator_id"), table_name="portfolio_item")
    op.drop_table("portfolio_item")
    with op.batch_alter_table("gig") as batch:
        batch.drop_column("product_image_key")
    with op.batch_alter_table("brand") as batch:
        batch.drop_column("logo_key")
    with op.batch_alter_table("creator") as batch:
        batch.drop_column("photo_key")
    with op.batch_alter_table("collaboration") as batch:
        batch.drop_column("signed_locale")
        batch.drop_column("terms_locale")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("timezone")
        batch.drop_column("locale")
