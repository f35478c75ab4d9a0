"""Sign-up, sign-in, password reset and API-token pages, and the matching JSON API."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import i18n
from marketplace.accounts.auth import SESSION_AUTH_AT, SESSION_FINGERPRINT, SESSION_USER, Actor, load_actor
from marketplace.accounts.guards import signed_in
from marketplace.accounts.models import User, UserKind
from marketplace.accounts.services import AccountService, SignUp
from marketplace.accounts.throttle import DEVICE_COOKIE, DEVICE_LIFETIME
from marketplace.errors import InvalidInput, TooManyRequests
from marketplace.forms import FormReader, normalise_email
from marketplace.i18n import N_, gettext
from marketplace.openapi import FILLED_TEXT, SPACE, TEXT, documented, object_rules, problem_spec
from marketplace.runtime import Runtime
from marketplace.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_fingerprint
from marketplace.sessions import ROTATE_SESSION_KEY
from marketplace.web import PageController, Problem, client_ip, flash, redirect, render, runtime_of, safe_next


def home_for(actor: Actor | None) -> str:
    if actor is None:
        return "/"
    if actor.is_admin:
        return "/admin"
    if actor.is_brand:
        return "/brand"
    return "/creator"


def start_session(request: Request[Any, Any, Any], user: User, runtime: Runtime) -> None:
    """A fresh session id on every sign-in, so a planted cookie can't ride along (session fixation)."""
    request.set_session(
        {
            SESSION_USER: str(user.id),
            SESSION_FINGERPRINT: password_fingerprint(user.password_hash, runtime.settings.app.secret_key),
            SESSION_AUTH_AT: runtime.clock.now().isoformat(),
            ROTATE_SESSION_KEY: True,
        }
    )


def provide_accounts(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> AccountService:
    return AccountService(db_session, runtime_of(request))


class AccountPages(PageController):
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @get("/signup", name="signup")
    async def signup_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        kind = "brand" if request.query_params.get("as") == "brand" else "creator"
        return render(request, "accounts/signup.html", {"form": {"kind": kind}, "errors": {}})

    @post("/signup")
    async def signup(self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        kind = f.choice("kind", UserKind, label=N_('Account type'))
        data = SignUp(
            kind=kind or UserKind.CREATOR,
            email=f.text("email", max_length=320),
            password=f.text("password", strip=False, max_length=10_000),
            full_name=f.text("full_name", max_length=10_000),
            brand_name=f.text("brand_name", max_length=10_000),
            display_name=f.text("display_name", max_length=10_000),
            timezone=f.text("timezone", max_length=64),
            locale=i18n.current_locale(),
        )
        values = {k: form.get(k, "") for k in ("kind", "email", "full_name", "brand_name", "display_name", "timezone")}
        try:
            if kind is UserKind.ADMIN:
                raise InvalidInput({"kind": gettext('Choose whether you sign up as a brand or as a creator.')})
            f.raise_if_invalid()
            # New address or not, the same page: the email (a welcome with a sign-in link, or a note to the
            # address's owner) is the only place the difference shows.
            await accounts.request_sign_up(data, ip=client_ip(request))
        except (InvalidInput, TooManyRequests) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return render(
                request,
                "accounts/signup.html",
                {"form": values, "errors": errors},
                block="form",
                status_code=exc.status_code,
            )
        sent = {"form": {}, "errors": {}, "sent_to": normalise_email(data.email)}
        return render(request, "accounts/signup.html", sent, block="form")

    @get("/signup/welcome/{token:str}", name="signup_welcome")
    async def welcome(
        self, request: Request[Any, Any, Any], token: FromPath[str], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        try:
            user = await accounts.sign_in_with_welcome_link(token)
        except InvalidInput as exc:
            problem = Problem(400, "Link not valid", exc.errors["token"], "invalid-link")
            return render(request, "error.html", {"problem": problem}, status_code=400)
        start_session(request, user, accounts.runtime)
        flash(request, gettext('Welcome to PostPact! Your account is ready.'))
        return redirect(request, "/brand" if user.kind is UserKind.BRAND else "/creator")

    @get("/signin", name="signin")
    async def signin_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if request.scope.get("user") is not None:
            return redirect(request, home_for(request.scope["user"]))
        return render(
            request, "accounts/signin.html", {"form": {"next": request.query_params.get("next", "")}, "errors": {}}
        )

    @post("/signin")
    async def signin(self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        email = f.text("email", max_length=320)
        password = f.text("password", strip=False, max_length=10_000)
        target = safe_next(f.text("next", max_length=2000), default="")
        values = {"email": email, "next": target}
        device = request.cookies.get(DEVICE_COOKIE)
        try:
            user = await accounts.authenticate(email, password, ip=client_ip(request), device_cookie=device)
        except (InvalidInput, TooManyRequests) as exc:
            errors = {"form": exc.message}
            return render(
                request,
                "accounts/signin.html",
                {"form": values, "errors": errors},
                block="form",
                status_code=exc.status_code,
                headers={"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None,
            )
        start_session(request, user, accounts.runtime)
        loaded = await load_actor(accounts.session, user.id)
        response = redirect(request, target or home_for(loaded[0] if loaded else None))
        # This browser now counts as the owner's usual place for this account (accounts/throttle.py).
        response.set_cookie(
            DEVICE_COOKIE,
            accounts.throttle.remember(device, user.id),
            max_age=int(DEVICE_LIFETIME.total_seconds()),
            httponly=True,
            samesite="lax",
        )
        return response

    @post("/signout", name="signout")
    async def signout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        request.clear_session()
        return redirect(request, "/signin")

    @get("/password/forgot", name="password_forgot")
    async def forgot_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(request, "accounts/forgot.html", {"form": {}, "errors": {}, "sent": False})

    @post("/password/forgot")
    async def forgot(self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Response[Any]:
        form = await request.form()
        email = FormReader(form).text("email", max_length=320)
        try:
            await accounts.request_password_reset(email, ip=client_ip(request))
        except (InvalidInput, TooManyRequests) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return render(
                request,
                "accounts/forgot.html",
                {"form": {"email": email}, "errors": errors, "sent": False},
                block="form",
                status_code=exc.status_code,
            )
        return render(
            request, "accounts/forgot.html", {"form": {}, "errors": {}, "sent": True, "email": email}, block="form"
        )

    @get("/password/reset/{token:str}", name="password_reset")
    async def reset_form(
        self, request: Request[Any, Any, Any], token: FromPath[str], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        try:
            await accounts.check_reset_token(token)
        except InvalidInput as exc:
            return render(
                request, "accounts/reset.html", {"token": token, "errors": exc.errors, "invalid": True}, status_code=400
            )
        return render(request, "accounts/reset.html", {"token": token, "errors": {}, "invalid": False})

    @post("/password/reset/{token:str}")
    async def reset(
        self, request: Request[Any, Any, Any], token: FromPath[str], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        password = f.text("password", strip=False, max_length=10_000)
        if password != f.text("password_confirm", strip=False, max_length=10_000):
            return render(
                request,
                "accounts/reset.html",
                {"token": token, "errors": {"password_confirm": "The two passwords don't match."}, "invalid": False},
                status_code=422,
            )
        try:
            user = await accounts.reset_password(token, password)
        except InvalidInput as exc:
            invalid = "token" in exc.errors
            return render(
                request,
                "accounts/reset.html",
                {"token": token, "errors": exc.errors, "invalid": invalid},
                status_code=400 if invalid else 422,
            )
        start_session(request, user, accounts.runtime)
        flash(request, gettext('Your password was changed. Other devices have been signed out.'))
        loaded = await load_actor(accounts.session, user.id)
        return redirect(request, home_for(loaded[0] if loaded else None))

    @get("/account", name="account", guards=[signed_in])
    async def account(
        self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        actor: Actor = request.user
        tokens = await accounts.list_api_tokens(actor.user_id)
        return render(request, "accounts/account.html", {"tokens": tokens, "new_token": None, "errors": {}})

    @post("/account/tokens", guards=[signed_in])
    async def create_token(
        self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        actor: Actor = request.user
        form = await request.form()
        f = FormReader(form)
        name = f.text("name", max_length=10_000)
        new_token, errors = None, dict(f.errors)
        try:
            if not errors:
                _, new_token = await accounts.create_api_token(actor.user_id, name)
        except InvalidInput as exc:
            errors = exc.errors
        tokens = await accounts.list_api_tokens(actor.user_id)
        return render(
            request,
            "accounts/account.html",
            {"tokens": tokens, "new_token": new_token, "errors": errors},
            block="tokens",
            status_code=422 if errors else 201,
        )

    @post("/account/tokens/{token_id:uuid}/revoke", guards=[signed_in])
    async def revoke_token(
        self, request: Request[Any, Any, Any], token_id: FromPath[UUID], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        actor: Actor = request.user
        await accounts.revoke_api_token(actor.user_id, token_id)
        flash(request, gettext('Token revoked. Anything using it stops working now.'))
        if request.headers.get("hx-request") == "true":
            tokens = await accounts.list_api_tokens(actor.user_id)
            return render(
                request, "accounts/account.html", {"tokens": tokens, "new_token": None, "errors": {}}, block="tokens"
            )
        return redirect(request, "/account")


# --- JSON API ---------------------------------------------------------------------------------------------------


#: An address ``valid_email`` takes: no space or second @, a dot in the domain.
SIGN_UP_EMAIL = rf"^[^@{SPACE}\x00]{{1,64}}@[^@{SPACE}\x00]+\.[^@{SPACE}\x00]{{2,}}$"
#: At least 4 different characters (``password_problems``): each group is the first character unlike those before.
FOUR_DIFFERENT_CHARACTERS = r"^([\s\S])\1*(?!\1)([\s\S])(?:\1|\2)*(?!\1|\2)([\s\S])(?:\1|\2|\3)*(?!\1|\2|\3)[\s\S]"
NAME_MAX = 120


class SignUpBody(msgspec.Struct, forbid_unknown_fields=True):
    __openapi_rules__: ClassVar[dict[str, Any]] = object_rules(
        description="`brand_name` is required when `kind` is brand. Also checked, answered 422 on `password`: the "
        "password must not contain the part of the email before the @ (when that is 4 characters or more).",
        **{"if": {"properties": {"kind": {"const": "brand"}}, "required": ["kind"]},
           "then": {"properties": {"brand_name": {"pattern": FILLED_TEXT}}, "required": ["brand_name"]}},
    )

    kind: Annotated[str, documented(enum=["brand", "creator"])]
    email: Annotated[str, documented(min_length=6, max_length=254, pattern=SIGN_UP_EMAIL)]
    password: Annotated[str, documented(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH,
                                        pattern=FOUR_DIFFERENT_CHARACTERS)]
    full_name: Annotated[str, documented(min_length=1, max_length=NAME_MAX, pattern=FILLED_TEXT)]
    brand_name: Annotated[str, documented(max_length=NAME_MAX, pattern=TEXT)] = ""
    display_name: Annotated[str, documented(max_length=NAME_MAX, pattern=TEXT)] = ""


class TokenBody(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    name: Annotated[str, documented(min_length=1, max_length=80, pattern=FILLED_TEXT)] = "API token"


class NewTokenBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, documented(min_length=1, max_length=80, pattern=FILLED_TEXT)]


#: The languages and zones ``PATCH /api/v1/me`` takes, stated in the schema (``AccountService.set_preferences``
#: checks them and answers 422 with a message per field).
LANGUAGE_CODES: list[str | None] = [*i18n.LANGUAGES, None]
ZONE_NAMES = sorted(i18n.known_zones() | {i18n.DEFAULT_ZONE})


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    kind: str
    full_name: str
    brand_id: UUID | None
    brand_role: str | None
    creator_id: UUID | None
    #: The interface language ("en", "zh_Hans"); null follows the request's Accept-Language.
    locale: Annotated[str | None, documented(enum=LANGUAGE_CODES)]
    #: The IANA time zone times are shown in ("Asia/Shanghai").
    timezone: str


class PreferencesPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change."""

    #: "en" or "zh_Hans"; null: follow each request's Accept-Language.
    locale: Annotated[str | None, documented(enum=LANGUAGE_CODES)] | msgspec.UnsetType = msgspec.UNSET
    #: An IANA time zone name, such as "Asia/Shanghai" or "America/Los_Angeles".
    timezone: Annotated[str, documented(enum=ZONE_NAMES)] | msgspec.UnsetType = msgspec.UNSET


class TokenOut(msgspec.Struct):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class SignUpAcceptedOut(msgspec.Struct):
    email: str
    detail: str = "Check your email to continue. Then get a token with POST /api/v1/auth/token."


class IssuedTokenOut(msgspec.Struct):
    token: str
    id: UUID
    name: str
    detail: str = "Store this token now; it is shown only once."


def _user_out(actor: Actor) -> UserOut:
    return UserOut(
        id=actor.user_id,
        email=actor.email,
        kind=actor.kind.value,
        full_name=actor.name,
        brand_id=actor.brand_id,
        brand_role=actor.brand_role.value if actor.brand_role else None,
        creator_id=actor.creator_id,
        locale=actor.locale,
        timezone=actor.timezone,
    )


class AccountApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post("/auth/signup", status_code=HTTP_202_ACCEPTED, summary="Sign up as a brand or creator (check your email)",
          description="The same answer whether or not the address already has an account, so sign-up can't be used "
          "to find out who is on PostPact. A new account is created at once and its welcome email carries a "
          "sign-in link; an address that already has an account gets an email saying so. Either way, exchange "
          "the email and password for a token with POST /api/v1/auth/token.")
    async def signup(
        self, request: Request[Any, Any, Any], data: JSONBody[SignUpBody], accounts: NamedDependency[AccountService]
    ) -> SignUpAcceptedOut:
        try:
            kind = UserKind(data.kind)
        except ValueError:
            kind = UserKind.ADMIN
        if kind is UserKind.ADMIN:
            raise InvalidInput({"kind": gettext("kind must be 'brand' or 'creator'.")})
        await accounts.request_sign_up(
            SignUp(
                kind=kind,
                email=data.email,
                password=data.password,
                full_name=data.full_name,
                brand_name=data.brand_name,
                display_name=data.display_name,
            ),
            ip=client_ip(request),
        )
        return SignUpAcceptedOut(email=normalise_email(data.email))

    @post("/auth/token", status_code=HTTP_201_CREATED, summary="Exchange email and password for an API token",
          responses={422: problem_spec(422, "The email or password is not right (one message, never saying which), "
                                            "or the token's name breaks its rule: one message per field in `errors`")})
    async def token(
        self, request: Request[Any, Any, Any], data: JSONBody[TokenBody], accounts: NamedDependency[AccountService]
    ) -> IssuedTokenOut:
        token, raw = await accounts.token_for_credentials(data.email, data.password, data.name, ip=client_ip(request))
        return IssuedTokenOut(token=raw, id=token.id, name=token.name)

    @get("/me", guards=[signed_in], summary="The account behind the token")
    async def me(self, request: Request[Any, Any, Any]) -> UserOut:
        return _user_out(request.user)

    @patch("/me", guards=[signed_in], summary="Change your language or time zone",
           description="Pages, emails and API error messages follow the language; times are shown in the zone. "
           "Send only what changes.",
           responses={422: problem_spec(422, "locale is not a language offered, or timezone is not an IANA zone "
                                             "name: one message per field in `errors`")})
    async def update_me(
        self, request: Request[Any, Any, Any], data: JSONBody[PreferencesPatch],
        accounts: NamedDependency[AccountService]
    ) -> UserOut:
        changes = {name: getattr(data, name) for name in ("locale", "timezone")
                   if getattr(data, name) is not msgspec.UNSET}
        user = await accounts.set_preferences(request.user.user_id, changes)
        return _user_out(dataclasses.replace(request.user, locale=user.locale, timezone=user.timezone))

    @get("/tokens", guards=[signed_in], summary="Your API tokens")
    async def tokens(
        self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]
    ) -> list[TokenOut]:
        tokens = await accounts.list_api_tokens(request.user.user_id)
        return [
            TokenOut(
                id=t.id,
                name=t.name,
                prefix=t.token_prefix,
                created_at=t.created_at,
                last_used_at=t.last_used_at,
                revoked_at=t.revoked_at,
            )
            for t in tokens
        ]

    @post("/tokens", guards=[signed_in], status_code=HTTP_201_CREATED, summary="Create another API token")
    async def create_token(
        self, request: Request[Any, Any, Any], data: JSONBody[NewTokenBody], accounts: NamedDependency[AccountService]
    ) -> IssuedTokenOut:
        token, raw = await accounts.create_api_token(request.user.user_id, data.name)
        return IssuedTokenOut(token=raw, id=token.id, name=token.name)

    @post("/tokens/{token_id:uuid}/revoke", guards=[signed_in], summary="Revoke an API token")
    async def revoke(
        self, request: Request[Any, Any, Any], token_id: FromPath[UUID], accounts: NamedDependency[AccountService]
    ) -> TokenOut:
        t = await accounts.revoke_api_token(request.user.user_id, token_id)
        return TokenOut(
            id=t.id,
            name=t.name,
            prefix=t.token_prefix,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
