"""What can go wrong talking to a store, in words a brand can act on."""

from __future__ import annotations

import enum


class StoreProblem(enum.StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    MISSING_SCOPE = "missing_scope"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"
    THROTTLED = "throttled"
    STORE_ERROR = "store_error"
    REFUSED = "refused"


#: Worth trying again later (the job retries); the others need a person to fix something.
TRANSIENT = frozenset({StoreProblem.UNREACHABLE, StoreProblem.THROTTLED, StoreProblem.STORE_ERROR})


class StoreError(Exception):
    def __init__(self, problem: StoreProblem, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.problem in TRANSIENT
