"""A creator's portfolio: past verified posts (links) and uploaded pictures, shown on cards and the profile."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase


class PortfolioItem(AuditBase):
    """A link to a post (a verified PostPact deal's, or one the creator adds) and/or an uploaded image."""

    __tablename__ = "portfolio_item"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    post_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: Resized image in upload storage (marketplace.storage); None for a link-only item.
    image_key: Mapped[str | None] = mapped_column(sa.String(300), default=None)
    #: Set when the post is a deal's verified post on PostPact: the card says "verified".
    collaboration_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("collaboration.id", ondelete="SET NULL"), default=None
    )
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.UniqueConstraint("creator_id", "collaboration_id", name="uq_portfolio_item_deal"),)
