"""Rendering pages and htmx fragments, flash messages, redirects and problem-details errors."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from litestar import Controller, MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.utils.scope.state import ScopeState

from marketplace.errors import InvalidInput, PostPactError, TooManyRequests
from marketplace.i18n import gettext

if TYPE_CHECKING:
    import jinja2

    from marketplace.runtime import Runtime

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
FLASH_KEY = "_flash"


class PageController(Controller):
    """HTML pages: kept out of the OpenAPI schema, which documents the JSON API only."""

    include_in_schema = False


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The caller's address as the server saw it (rate limits, audit entries)."""
    return request.client.host if request.client else "unknown"


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def flash(request: Request[Any, Any, Any], message: str, level: str = "success") -> None:
    """A one-time message shown on the next full page (kept in the session, so it survives the redirect)."""
    session = request.scope.get("session")
    if not isinstance(session, dict):
        request.set_session({})
        session = request.scope["session"]
    session.setdefault(FLASH_KEY, []).append([level, message])


def _take_flashes(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    session = request.scope.get("session")
    if not isinstance(session, dict) or FLASH_KEY not in session:
        return []
    return [(level, message) for level, message in session.pop(FLASH_KEY)]


def _csrf_token(request: Request[Any, Any, Any]) -> str:
    # Empty (not a string) when the CSRF middleware never ran, e.g. on a 404 for a path with no route.
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def template_context(request: Request[Any, Any, Any], context: dict[str, Any] | None) -> dict[str, Any]:
    token = _csrf_token(request)
    runtime = runtime_of(request)
    base = {
        "request": request,
        "actor": request.scope.get("user"),
        "csrf_input": f'<input type="hidden" name="_csrf_token" value="{html.escape(token)}">',
        "csrf_value": token,
        "simulated_payments": not runtime.settings.stripe.enabled,
        "env": runtime.settings.app.env,
        "htmx_available": runtime.htmx_available,
        "now": runtime.clock.now(),
    }
    base.update(context or {})
    return base


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """Render a whole page, or — for htmx requests when ``block`` is given — only that named block."""
    env: jinja2.Environment = request.app.template_engine.engine  # type: ignore[union-attr]
    tmpl = env.get_template(template)
    full_page = block is None or not is_htmx(request)
    ctx = template_context(request, context)
    if full_page:
        ctx["flashes"] = _take_flashes(request)
        content = tmpl.render(ctx)
    else:
        assert block is not None
        content = "".join(tmpl.blocks[block](tmpl.new_context(ctx)))
    return Response(content=content, media_type=MediaType.HTML, status_code=status_code, headers=headers)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths, so a crafted ?next= can't send people elsewhere."""
    if not target:
        return default
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def redirect(request: Request[Any, Any, Any], path: str) -> Response[Any]:
    """After a successful form post: a 303 for plain browsers, HX-Redirect for htmx so the whole page changes."""
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    detail: str
    slug: str
    errors: dict[str, str] | None = None


def problem_response(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
    }
    if problem.errors:
        body["errors"] = [{"field": field, "message": message} for field, message in problem.errors.items()]
    return Response(content=body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: ValidationException) -> dict[str, str]:
    errors: dict[str, str] = {}
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "body")
        key = key.removeprefix("$.").removeprefix("$")
        errors.setdefault(key or "body", str(item.get("message") or "invalid value"))
    return errors


def _translated(errors: dict[str, str] | None) -> dict[str, str] | None:
    return {key: gettext(message) for key, message in errors.items()} if errors else errors


def _problem_for(exc: Exception) -> tuple[Problem, dict[str, str] | None]:
    """Titles and details in the caller's language: messages marked where they are raised (``_()`` or ``N_()``) are
    looked up again here, so a message made before the language was known is still translated."""
    if isinstance(exc, InvalidInput):
        errors = _translated(exc.errors)
        detail = "; ".join(f"{k}: {v}" for k, v in (errors or {}).items()) if exc.message == " ".join(
            exc.errors.values()) else gettext(exc.message)
        return Problem(exc.status_code, gettext(exc.title), detail, exc.slug, errors), None
    if isinstance(exc, TooManyRequests):
        return Problem(exc.status_code, gettext(exc.title), gettext(exc.message), exc.slug), {
            "Retry-After": str(exc.retry_after)}
    if isinstance(exc, PostPactError):
        return Problem(exc.status_code, gettext(exc.title), gettext(exc.message), exc.slug), None
    if isinstance(exc, UnicodeDecodeError):
        # Litestar's form parser (used by the CSRF check before any handler runs) raises this for text parts
        # that aren't UTF-8: the client sent a bad body, so it's a 400 for every form, not a 500.
        detail = gettext("The form contains text that isn't valid UTF-8.")
        return Problem(400, gettext("Invalid request"), detail, "invalid-encoding"), None
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        detail = gettext("The request body or parameters are not valid.")
        if errors:
            detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return Problem(400, gettext("Invalid request"), detail, "invalid-request", errors or None), None
    if isinstance(exc, NotAuthorizedException):
        detail = gettext(exc.detail) if exc.detail else gettext("Sign in or send a valid API token.")
        return Problem(401, gettext("Sign-in required"), detail, "unauthorized"), {
            "WWW-Authenticate": 'Bearer realm="postpact"'
        }
    if isinstance(exc, PermissionDeniedException):
        detail = gettext(exc.detail) if exc.detail else gettext("You don't have access to this.")
        return Problem(403, gettext("Forbidden"), detail, "forbidden"), None
    if isinstance(exc, HTTPException):
        title = {
            400: gettext("Invalid request"),
            404: gettext("Not found"),
            405: gettext("Method not allowed"),
            413: gettext("Too large"),
            415: gettext("Unsupported media type"),
            429: gettext("Too many requests"),
        }.get(exc.status_code, gettext("Request failed"))
        return Problem(exc.status_code, title, gettext(exc.detail) if exc.detail else title,
                       f"http-{exc.status_code}"), (dict(exc.headers) if exc.headers else None)
    return Problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        gettext("Internal error"),
        gettext("Something went wrong on our side; nothing was changed. Please try again."),
        "internal",
    ), None


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error becomes problem details under /api and webhooks, a readable page elsewhere."""
    problem, headers = _problem_for(exc)
    if problem.status >= 500:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_api(request) or request.url.path.startswith("/webhooks/"):
        return problem_response(request, problem, headers)
    if isinstance(exc, NotAuthorizedException):
        target = "/signin?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if is_htmx(request):
            return Response(content="", status_code=401, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=HTTP_303_SEE_OTHER)
    try:
        return render(request, "error.html", {"problem": problem}, status_code=problem.status, headers=headers)
    except Exception:  # the error page itself must never fail
        log.exception("error page failed to render")
        return Response(
            content=f"{problem.status} {problem.title}: {problem.detail}",
            status_code=problem.status,
            media_type=MediaType.TEXT,
            headers=headers,
        )
