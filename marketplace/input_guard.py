"""Request input no handler should ever see, refused in one place before any handler runs: JSON nested too deep to
decode safely, JSON sent to the API under another content type, money in JSON that isn't integer minor units and an
upper-case currency, and text no database column can take (NUL, which PostgreSQL refuses, unpaired surrogates, bytes
that aren't UTF-8) in the path and query parameters. Form fields are checked where they are read
(``marketplace.forms.FormReader``, so a form comes back with the message beside the field) and JSON strings by each
handler's rules; ``refuse_unstorable_text`` stops any that slip through before the database."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from sqlalchemy import event

from marketplace.errors import InvalidInput
from marketplace.forms import text_problem

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import ASGIApp, Receive, Scope, Send
    from sqlalchemy.ext.asyncio import AsyncEngine

#: Deeper than any body PostPact accepts (its deepest is an object in a list in an object); msgspec and the json
#: module raise RecursionError near 1,000 levels, which would otherwise surface as a 500.
MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string, unrolled so that megabytes of base64 are skipped at C speed.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class InputRefused(HTTPException):
    """A request refused for its shape (400 bad body, 415 wrong content type) with a sentence saying why."""


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the document nests arrays/objects more than ``limit`` levels, found without recursing or decoding."""
    depth = 0
    for match in _BRACKETS.finditer(_JSON_STRING.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or (content_type.startswith("application/") and
                                                   content_type.endswith("+json"))


def _sentence(problem: str) -> str:
    return problem[:1].upper() + problem[1:]


def _money_problems(value: Any, where: str, found: dict[str, str]) -> None:
    """The API's money is ``{"amount": <integer minor units>, "currency": "USD"}`` everywhere. Litestar's decoding
    would turn ``"100"`` into 100 and the services upper-case ``"usd"``: both are refused here instead, so a client
    learns the contract rather than relying on a guess (``"1.50"`` is not 150 minor units, nor 1)."""
    if isinstance(value, dict):
        if "amount" in value and set(value) <= {"amount", "currency"}:
            amount, currency = value.get("amount"), value.get("currency")
            if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                found.setdefault(f"{where}.amount".lstrip("."),
                                 "Amounts are whole numbers of minor units, like 1500 for 15.00 USD (not a string).")
            if currency is not None and (not isinstance(currency, str) or currency != currency.upper()):
                found.setdefault(f"{where}.currency".lstrip("."),
                                 "Currency codes are upper-case ISO 4217 codes, like USD.")
        for key, item in value.items():
            _money_problems(item, f"{where}.{key}" if where else str(key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _money_problems(item, f"{where}[{index}]", found)


def query_problems(raw_query: bytes, path: str) -> dict[str, str]:
    found: dict[str, str] = {}
    problem = text_problem(path)
    if problem:
        found["path"] = f"The address {problem}."
    try:
        pairs = parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        found["query"] = "The query string contains bytes that are not valid UTF-8."
        return found
    for name, value in pairs:
        for text in (name, value):
            problem = text_problem(text)
            if problem:
                label = name if text_problem(name) is None else "query"
                found.setdefault(label, f"{_sentence(problem)}.")
    return found


def json_problems(body: bytes, *, api: bool = False) -> dict[str, str]:
    if json_too_deep(body):
        raise InputRefused(status_code=400, detail=f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
    # Strings with NUL are left to the handler's own rules, which name the field as its clients know it; whatever
    # slips through is stopped before the database (refuse_unstorable_text).
    if not api:
        return {}
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}  # malformed JSON: the handler's own decoding answers it with a 400 naming the problem
    found: dict[str, str] = {}
    _money_problems(document, "", found)
    return found


UNSTORABLE = "Some text contains characters that can't be stored (NUL or invalid Unicode); remove them."


def _has_unstorable_text(value: Any) -> bool:
    # Parameters come as a dict, a tuple, or (executemany, array columns) lists of those, depending on the driver.
    if isinstance(value, str):
        return text_problem(value) is not None
    if isinstance(value, dict):
        return any(_has_unstorable_text(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_unstorable_text(item) for item in value)
    return False


def _refuse_unstorable_parameters(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
                                  _executemany: bool) -> None:
    if _has_unstorable_text(parameters):
        raise InvalidInput({"text": UNSTORABLE}, message=UNSTORABLE)


def refuse_unstorable_text(engine: AsyncEngine) -> None:
    """The last line behind the checks above and FormReader's: a statement about to send NUL or a lone surrogate
    to the database (PostgreSQL refuses it with an error that would be a 500; SQLite would store it) is stopped
    with a 422 instead, whichever handler forgot to check. Installed once per engine."""
    target = engine.sync_engine
    if not event.contains(target, "before_cursor_execute", _refuse_unstorable_parameters):
        event.listen(target, "before_cursor_execute", _refuse_unstorable_parameters)


class InputGuardMiddleware(ASGIMiddleware):
    """Runs first for every route, so no later layer (CSRF, sessions, handlers, the database) meets such input."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"].startswith("/static/"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path: str = scope["path"]
        problems = query_problems(scope.get("query_string", b""), path)
        if problems:
            raise InvalidInput(problems)
        if scope["method"] in _BODY_METHODS:
            request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
            content_type, _ = request.content_type
            if is_json_type(content_type):
                problems = json_problems(await request.body(), api=path.startswith("/api/"))
            elif path.startswith("/api/"):
                # The API speaks JSON only: a JSON body posted as text/plain or a form is a cross-site "simple"
                # request a browser sends without asking, and a sign of a confused client. CSV imports
                # (``.../import``, ``.../import/jobs``) are the exception: a CSV file as text/csv or a multipart upload.
                csv_upload = path.endswith(("/import", "/import/jobs")) and content_type in (
                    "text/csv", RequestEncodingType.MULTI_PART)
                if not csv_upload and (await request.body()).strip():
                    raise InputRefused(
                        status_code=415, detail="Send the body as JSON with Content-Type: application/json."
                    )
            if problems:
                raise InvalidInput(problems)
        await next_app(scope, receive, send)
