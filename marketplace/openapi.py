"""The OpenAPI schema as the API's contract: the problem-details responses every operation can give, declared in
one place from what the route is (its guards, path, method and body), and Swagger UI served from ``static/``.

Areas may declare their own error responses (with words of their own); those win over the standard ones here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIType, Reference, SecurityScheme
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.routes import HTTPRoute

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"
SWAGGER_ASSETS = "/static/vendor/swagger-ui"


class ProblemFieldError(msgspec.Struct):
    """One field's message (``field`` is the JSON path or parameter name)."""

    field: str
    message: str


class ProblemDetails(msgspec.Struct):
    """RFC 9457 problem details, the body of every error under ``/api`` (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemFieldError] | None = None


STANDARD_WORDS: dict[int, str] = {
    400: "The body or a parameter is not valid (malformed JSON, wrong type, too deeply nested)",
    401: "No valid API token (send `Authorization: Bearer <token>`)",
    403: "Your account or role may not do this",
    404: "Not found, or not yours: other people's records are never found",
    409: "Not possible in the record's current state",
    413: "The body is too large",
    415: "The body must be sent as `application/json`",
    422: "A field breaks a rule: one message per field in `errors`",
    429: "Too many requests: wait for `Retry-After` seconds",
    503: "Payments can't act right now; nothing was changed",
}


#: What Python's ``str.strip()`` removes, spelled out: a generator reading ``\s`` the ECMAScript way would
#: otherwise offer U+0085 or U+001C as "not a space".
SPACE = r"\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Text the database can store: no NUL (``InputGuard`` and the engine refuse it with a 422), not only spaces.
TEXT = rf"^[^\x00]*[^{SPACE}\x00][^\x00]*$|^$"
#: Text that must not be blank (the services strip it and then call it required).
FILLED_TEXT = rf"^[^\x00]*[^{SPACE}\x00][^\x00]*$"
#: Text with no space at either end, so the lengths the schema gives are the ones a service counts once trimmed.
TRIMMED_TEXT = rf"^[^{SPACE}\x00](?:[^\x00]*[^{SPACE}\x00])?$"
#: Any text without NUL (multi-line notes and statements, where only spaces is fine).
NO_NUL = r"^[^\x00]*$"
#: An email address ``marketplace.forms.valid_email`` takes (printable ASCII), or nothing.
EMAIL = r"^[!-?A-~]{1,64}@[!-?A-~]+\.[!-?A-~]{2,}$|^$"
#: A web address ``forms.valid_http_url`` takes once trimmed: http(s) in any case, a host, no spaces anywhere.
WEB_ADDRESS = rf"^[hH][tT][tT][pP][sS]?://[^{SPACE}\x00/?#\[\]]+(?:[/?#][^{SPACE}\x00]*)?$"
#: A list of ids, sent as text (the services answer 422 for any that is not one).
UUID_ITEMS: dict[str, Any] = {"type": "string", "format": "uuid"}


def documented(**schema: Any) -> msgspec.Meta:
    """Rules a service checks itself (answering 422 with a message per field), written into the schema so clients
    and the contract test know them: ``name: Annotated[str, documented(min_length=1, max_length=100)]``. msgspec does
    not enforce them, which would turn the field's 422 into a generic 400."""
    return msgspec.Meta(extra_json_schema={"extra": schema})


#: The class attribute of a body struct that holds its ``object_rules()``.
OBJECT_RULES = "__openapi_rules__"


def object_rules(*, required: Iterable[str] = (), **schema: Any) -> dict[str, Any]:
    """Rules about a whole body that its service checks (422, one message per field), for the schema only:
    ``required`` names fields the struct lets a client leave out, so that a missing one is answered with the field's
    own message rather than a generic 400, and ``schema`` adds keywords such as ``description`` or
    ``if``/``then``/``else`` (a field required only when another has some value). In the struct:
    ``__openapi_rules__: ClassVar[dict[str, Any]] = object_rules(required=["title"])``."""
    return {"required": list(required), **schema}


def _not_null(prop: OpenAPISchema) -> None:
    """A field a rule requires is not nullable either: ``oneOf: [X, null]`` becomes X."""
    members = [m for m in prop.one_of or [] if not (isinstance(m, OpenAPISchema) and m.type == OpenAPIType.NULL)]
    if not prop.one_of or len(members) != 1:
        return
    (member,) = members
    prop.one_of = None
    if isinstance(member, Reference):
        prop.all_of = [member]
        return
    for name, value in vars(member).items():
        if value is not None and getattr(prop, name) is None:
            setattr(prop, name, value)
    if isinstance(prop.enum, list) and None in prop.enum:
        prop.enum = [v for v in prop.enum if v is not None]


def problem_spec(status: int, description: str | None = None) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails,
        description=description or STANDARD_WORDS[status],
        media_type=PROBLEM_JSON,
        generate_examples=False,
    )


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """For a route that wants to name its error responses explicitly (the standard ones are added anyway)."""
    return {status: problem_spec(status) for status in statuses}


def _is_public(handler: HTTPRouteHandler) -> bool:
    """No guard and no security requirement: the few routes anyone may call (sign-up, token, signed webhooks)."""
    return not handler.resolve_guards() or handler.resolve_security() == [{}]


def _takes_body(handler: HTTPRouteHandler) -> bool:
    return "data" in handler.parsed_fn_signature.parameters


def standard_statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    """What any operation like this one can answer besides success, from what the app does for every route:
    parameter/body validation (400, 422), the guards (401, 403), scoped lookups (404), state checks on changes (409),
    the JSON body rules (413, 415), rate limits (429) and escrow being unavailable (503)."""
    statuses = {400, 422, 429}
    if not _is_public(handler):
        statuses |= {401, 403}
    if route.path_parameters:
        statuses.add(404)
    changes = set(handler.http_methods) - {"GET", "HEAD", "OPTIONS"}
    if changes and not _is_public(handler):
        statuses |= {404, 409, 503}
    if _takes_body(handler):
        statuses |= {413, 415}
    return statuses


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """A body struct declared ``forbid_unknown_fields`` refuses unknown keys with a 400, so its schema says
    ``additionalProperties: false`` (Litestar's own struct plugin leaves objects open); a struct's
    ``object_rules()`` are written into its schema."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if msgspec.inspect.type_info(field_definition.type_).forbid_unknown_fields:  # type: ignore[union-attr]
            schema.additional_properties = False
        rules: dict[str, Any] = dict(getattr(field_definition.type_, OBJECT_RULES, None) or {})
        required = rules.pop("required", [])
        for name in required:
            prop = (schema.properties or {})[name]
            if isinstance(prop, OpenAPISchema):
                _not_null(prop)
        if required:
            schema.required = sorted({*(schema.required or []), *required})
        aliases = schema.field_aliases()
        for key, value in rules.items():
            name = aliases.get(key, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower())
            if not hasattr(schema, name):
                raise ValueError(f"object_rules: {key!r} is not a schema keyword")
            setattr(schema, name, value)
        return schema


def declare_problem_responses(app: Litestar) -> None:
    """Make the schema say what the API does: every JSON API operation gets its error responses with the
    problem-details schema, and closed body structs say so. The schema is built lazily on the first request for
    it, so setting the handlers' ``responses`` and the schema plugins here is all it takes."""
    app.plugins.openapi = (ClosedStructSchemaPlugin(), *app.plugins.openapi)
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(API_PREFIX):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            declared: dict[int, ResponseSpec] = dict(handler.responses or {})
            for status in standard_statuses(route, handler):
                declared.setdefault(status, problem_spec(status))
            handler.responses = declared


def openapi_config() -> OpenAPIConfig:
    """``/schema`` (Swagger UI, from the pinned npm package copied to ``static/vendor``) and
    ``/schema/openapi.json``; nothing is fetched from a CDN."""
    swagger = SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon="",
    )
    return OpenAPIConfig(
        title="PostPact API",
        version="1.0.0",
        description="Gigs, applications, collaborations and escrow for brands and creators. "
        "Authenticate with `Authorization: Bearer <token>` (create one at /account or "
        "POST /api/v1/auth/token). Money is `{amount: <integer minor units>, currency: 'USD'}`. "
        "Send JSON bodies as `application/json`. Every error is `application/problem+json` "
        "(RFC 9457), with one message per field in `errors` for a 422.",
        path="/schema",
        render_plugins=[swagger],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", description="A PostPact API token"),
            }
        ),
        security=[{"BearerToken": []}],
    )


def schema_dict(app: Litestar) -> dict[str, Any]:
    """The schema as served at ``/schema/openapi.json``."""
    from litestar.serialization import decode_json, encode_json

    return decode_json(encode_json(app.openapi_schema.to_schema()))  # type: ignore[no-any-return]
