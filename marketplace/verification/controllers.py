"""The verification evidence of a collaboration, for both parties and admins (the deal page includes the fragment)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import current_actor, signed_in
from marketplace.verification.evidence import load_evidence
from marketplace.web import PageController, render


class EvidencePages(PageController):
    guards = [signed_in]

    @get("/collaborations/{collaboration_id:uuid}/verification", name="verification_evidence")
    async def evidence(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
    ) -> Response[Any]:
        evidence = await load_evidence(db_session, collaboration_id, current_actor(request))
        return render(request, "verification/evidence.html", {"evidence": evidence}, block="evidence")


ROUTES: list[Any] = [EvidencePages]
