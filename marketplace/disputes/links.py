"""Where a dispute is read: the parties' page and the admin's case file."""

from __future__ import annotations

from uuid import UUID


def dispute_link(collaboration_id: UUID) -> str:
    return f"/collaborations/{collaboration_id}/dispute"


def admin_link(dispute_id: UUID) -> str:
    return f"/admin/disputes/{dispute_id}"
