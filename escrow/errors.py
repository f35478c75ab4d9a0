"""The errors escrow's money decisions raise; ``message`` is written for people."""

from __future__ import annotations


class EscrowError(Exception):
    """A money decision that is not possible now; ``message`` is written for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EscrowConflict(EscrowError):
    pass
