"""Business errors that every surface (pages, htmx fragments, the JSON API) turns into a clear response."""

from __future__ import annotations

from collections.abc import Mapping

from marketplace.i18n import N_


class PostPactError(Exception):
    status_code = 400
    slug = "bad-request"
    title = N_("Bad request")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title


class InvalidInput(PostPactError):
    """Input that breaks a rule; carries a message per field so forms can show them in place."""

    status_code = 422
    slug = "validation-error"
    title = N_("Some fields need attention")

    def __init__(self, errors: Mapping[str, str], message: str | None = None) -> None:
        # The messages are sentences for people; field names stay in ``errors`` (pages put each message beside its
        # field, the API lists them), so a flashed or shown message never reads "creator_ids: ...".
        super().__init__(message or " ".join(errors.values()) or self.title)
        self.errors = dict(errors)


class NotFound(PostPactError):
    status_code = 404
    slug = "not-found"
    title = N_("Not found")


class Forbidden(PostPactError):
    status_code = 403
    slug = "forbidden"
    title = N_("You don't have access to this")


class Conflict(PostPactError):
    """The request is well-formed but the thing is not in a state that allows it."""

    status_code = 409
    slug = "conflict"
    title = N_("Not possible right now")


class PaymentsUnavailable(PostPactError):
    """503: the step needs escrow (a refund, a release), and escrow can't act right now; nothing was changed."""

    status_code = 503
    slug = "payments-unavailable"
    title = N_("Payments are not available")


class TooManyRequests(PostPactError):
    status_code = 429
    slug = "too-many-requests"
    title = N_("Too many attempts")

    def __init__(self, message: str | None = None, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
