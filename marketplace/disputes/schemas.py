"""JSON shapes of the disputes API (money is integer minor units with its currency)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from escrow.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from marketplace.clock import as_utc
from marketplace.disputes.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from marketplace.disputes.models import OUTCOME_LABELS, PARTY_REASONS
from marketplace.disputes.services import STATEMENT_MAX, STATEMENT_MIN, CaseRow, CaseView
from marketplace.openapi import NO_NUL, TRIMMED_TEXT, documented

#: Standard base64 with its padding, as ``base64.b64decode(validate=True)`` takes it.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: A statement as ``services.check_text`` takes it once trimmed: 10-5000 characters without NUL.
STATEMENT = documented(min_length=STATEMENT_MIN, max_length=STATEMENT_MAX, pattern=TRIMMED_TEXT)


class MoneyBody(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, documented(minimum=0, maximum=MAX_AMOUNT)]
    currency: Annotated[str, documented(enum=sorted(CURRENCY_EXPONENTS))]


class AttachmentBody(msgspec.Struct, forbid_unknown_fields=True):
    """Evidence: up to 4 files of 5 MB each, checked by content like the page's uploads (JPEG, PNG, GIF, WebP, HEIC,
    MP4, MOV, WebM or PDF)."""

    filename: Annotated[str, documented(pattern=NO_NUL)]
    content_base64: Annotated[str, msgspec.Meta(
        description="The file's bytes, base64 (standard alphabet)",
        extra_json_schema={"extra": {"pattern": BASE64, "maxLength": (MAX_ATTACHMENT_BYTES + 2) // 3 * 4}})]


class OpenDisputeBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(description="not_posted, brief_mismatch, post_removed_early, "
                                                    "product_not_received, payment_withheld or other",
                                        extra_json_schema={"extra": {"enum": [r.value for r in PARTY_REASONS]}})]
    statement: Annotated[str, STATEMENT]
    attachments: Annotated[list[AttachmentBody], documented(max_items=MAX_ATTACHMENTS)] = msgspec.field(
        default_factory=list)


class StatementBody(msgspec.Struct, forbid_unknown_fields=True):
    statement: Annotated[str, STATEMENT]
    attachments: Annotated[list[AttachmentBody], documented(max_items=MAX_ATTACHMENTS)] = msgspec.field(
        default_factory=list)


class DecisionBody(msgspec.Struct, forbid_unknown_fields=True):
    """An admin's decision. ``password`` is the admin's own password, checked again on every decision (API
    tokens carry no sign-in time): wrong passwords are rate limited (5 per 15 minutes per admin, then 429)."""

    outcome: Annotated[str, msgspec.Meta(description="release, refund or split")]
    rationale: Annotated[str, msgspec.Meta(description="Sent to both parties")]
    password: str
    #: For a split: the creator's part of their fee (PostPact's fee share follows it; the rest goes to the brand).
    creator_amount: MoneyBody | None = None
    at_fault: Annotated[str | None, msgspec.Meta(
        description="Whose reliability records a lost dispute: creator, brand, both or none "
                    "(default: brand for release, creator for refund, none for split)")] = None


class MoneyOut(msgspec.Struct):
    amount: int
    currency: str


class StatementOut(msgspec.Struct):
    id: UUID
    party: str
    kind: str
    body: str
    created_at: datetime
    attachments: list[str]


class DecisionOut(msgspec.Struct):
    outcome: str
    outcome_label: str
    to_creator: MoneyOut
    to_brand: MoneyOut
    at_fault: str
    rationale: str
    decided_at: datetime


class DisputeOut(msgspec.Struct):
    id: UUID
    collaboration_id: UUID
    kind: str
    status: str
    reason: str
    reason_label: str
    opened_by: str
    opened_at: datetime
    respondent: str | None
    response_due_at: datetime | None
    responded_at: datetime | None
    response_missed: bool
    statements: list[StatementOut]
    decision: DecisionOut | None


class DisputeSummaryOut(msgspec.Struct):
    id: UUID
    collaboration_id: UUID
    title: str
    brand_name: str
    creator_name: str
    fee: MoneyOut
    kind: str
    status: str
    reason: str
    opened_at: datetime
    response_due_at: datetime | None
    response_missed: bool
    outcome: str | None


class DisputePageOut(msgspec.Struct):
    items: list[DisputeSummaryOut]
    next_cursor: str | None


class EscrowOut(msgspec.Struct):
    state: str
    held: MoneyOut
    available: MoneyOut
    creator_amount_remaining: MoneyOut


class AdminDisputeOut(msgspec.Struct):
    dispute: DisputeOut
    collaboration_status: str
    terms: dict[str, object]
    escrow: EscrowOut | None
    events: list[dict[str, object]]


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def dispute_out(view: CaseView, now: datetime) -> DisputeOut:
    d, decision = view.dispute, view.decision
    return DisputeOut(
        id=d.id, collaboration_id=d.collaboration_id, kind=d.kind.value, status=d.status.value,
        reason=d.reason.value, reason_label=view.reason_label, opened_by=d.opened_by_party,
        opened_at=as_utc(d.opened_at), respondent=d.respondent_party, response_due_at=_utc(d.response_due_at),
        responded_at=_utc(d.responded_at), response_missed=view.response_missed(now),
        statements=[StatementOut(s.statement.id, s.statement.party, s.statement.kind, s.statement.body,
                                 as_utc(s.statement.created_at), [a.filename for a in s.attachments])
                    for s in view.statements],
        decision=DecisionOut(
            outcome=decision.outcome.value, outcome_label=OUTCOME_LABELS[decision.outcome.value],
            to_creator=MoneyOut(decision.creator_amount, decision.currency),
            to_brand=MoneyOut(decision.brand_amount, decision.currency), at_fault=decision.at_fault,
            rationale=decision.rationale, decided_at=as_utc(decision.decided_at),
        ) if decision else None,
    )


def summary_out(row: CaseRow, now: datetime) -> DisputeSummaryOut:
    d = row.dispute
    return DisputeSummaryOut(
        id=d.id, collaboration_id=d.collaboration_id, title=row.title, brand_name=row.brand_name,
        creator_name=row.creator_name, fee=MoneyOut(row.fee_amount, row.currency), kind=d.kind.value,
        status=d.status.value, reason=d.reason.value, opened_at=as_utc(d.opened_at),
        response_due_at=_utc(d.response_due_at), response_missed=row.response_missed(now), outcome=row.outcome,
    )
