"""Signing up, signing in, password resets and API tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import i18n
from marketplace.accounts.models import ApiToken, PasswordReset, User, UserKind
from marketplace.accounts.throttle import SignInThrottle
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.errors import InvalidInput, NotFound, TooManyRequests
from marketplace.forms import normalise_email, text_problem, valid_email
from marketplace.i18n import gettext
from marketplace.notifications.mail import send_email
from marketplace.ratelimit import (
    PASSWORD_RESET_PER_ACCOUNT,
    PASSWORD_RESET_PER_IP,
    SIGN_UP_PER_IP,
    Limit,
)
from marketplace.runtime import Runtime
from marketplace.security import new_api_token, password_problems, token_digest

RESET_LINK_LIFETIME = timedelta(hours=1)
RESET_PURPOSE = "password-reset"
WELCOME_PURPOSE = "signup-welcome"
WELCOME_LINK_LIFETIME = timedelta(days=1)
SIGN_IN_FAILED = "Email or password is not right."


@dataclass(frozen=True)
class SignUp:
    kind: UserKind
    email: str
    password: str
    full_name: str
    brand_name: str = ""
    display_name: str = ""
    #: The browser's zone (filled in by a script on the sign-up page) and the page's language; both optional.
    timezone: str = ""
    locale: str = ""


def _check_sign_up(data: SignUp) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.kind not in (UserKind.BRAND, UserKind.CREATOR):
        errors["kind"] = gettext('Choose whether you sign up as a brand or as a creator.')
    if not data.email:
        errors["email"] = gettext('Email is required.')
    elif not valid_email(data.email):
        errors["email"] = gettext('Enter a valid email address, like name@example.com.')
    problems = password_problems(data.password, email=data.email)
    if problems:
        errors["password"] = " ".join(problems)
    if not data.full_name.strip():
        errors["full_name"] = gettext('Your name is required.')
    elif len(data.full_name) > 120:
        errors["full_name"] = gettext('Your name must be at most 120 characters.')
    if data.kind is UserKind.BRAND:
        if not data.brand_name.strip():
            errors["brand_name"] = gettext('Brand name is required.')
        elif len(data.brand_name) > 120:
            errors["brand_name"] = gettext('Brand name must be at most 120 characters.')
    if data.kind is UserKind.CREATOR and len(data.display_name) > 120:
        errors["display_name"] = gettext('Display name must be at most 120 characters.')
    labels = {"email": "Email", "full_name": "Your name", "brand_name": "Brand name", "display_name": "Display name"}
    for name, label in labels.items():
        problem = text_problem(getattr(data, name) or "")
        if problem and name not in errors:
            errors[name] = f"{label} {problem}."
    return errors


class AccountService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    async def _limit(self, key: str | None, limit_name: str, limit: Limit, message: str) -> None:
        if key is None:  # trusted callers (command line, seeding) are not rate limited
            return
        decision = await self.runtime.rate_limiter.hit(f"{limit_name}:{key}", limit)
        if not decision.allowed:
            raise TooManyRequests(message, retry_after=decision.retry_after)

    async def email_taken(self, email: str) -> bool:
        found = await self.session.scalar(sa.select(User.id).where(User.email == normalise_email(email)))
        return found is not None

    async def _checked_sign_up(self, data: SignUp, ip: str | None) -> SignUp:
        data = SignUp(
            kind=data.kind,
            email=normalise_email(data.email),
            password=data.password,
            full_name=data.full_name.strip(),
            brand_name=data.brand_name.strip(),
            display_name=(data.display_name or data.full_name).strip(),
            timezone=data.timezone,
            locale=data.locale,
        )
        errors = _check_sign_up(data)
        if errors:
            raise InvalidInput(errors)
        await self._limit(ip, "signup-ip", SIGN_UP_PER_IP, "Too many sign-ups from your network; try again later.")
        return data

    async def sign_up(self, data: SignUp, *, ip: str | None) -> User:
        """An account for trusted callers (seeding, the command line, roster claims): says so if the email is taken."""
        data = await self._checked_sign_up(data, ip)
        if await self.email_taken(data.email):
            raise InvalidInput({"email": gettext('An account with this email already exists. Sign in instead?')})
        return await self._create_account(data)

    async def request_sign_up(self, data: SignUp, *, ip: str | None) -> User | None:
        """The public sign-up (pages and API): the answer is the same whether or not the address has an account,
        so it can't be used to find out who is on PostPact. A new address gets its account and a welcome email with
        a one-time sign-in link; an address with an account gets an email telling its owner someone tried (and how
        to sign in or reset). None in the second case; the caller must not let that show."""
        data = await self._checked_sign_up(data, ip)
        existing = await self.session.scalar(sa.select(User).where(User.email == data.email))
        if existing is None:
            try:
                return await self._create_account(data, welcome_link=True)
            except InvalidInput:  # lost a race for the address: answer as for any taken address
                existing = await self.session.scalar(sa.select(User).where(User.email == data.email))
        self.runtime.passwords.hash(data.password)  # the same work as creating an account, so timing tells nothing
        if existing is not None and existing.is_active:
            public_url = self.runtime.settings.app.public_url
            await send_email(self.session, existing.email, "signup_existing", category="account", user=existing,
                             signin_link=f"{public_url}/signin", reset_link=f"{public_url}/password/forgot")
        return None

    def welcome_link(self, user: User) -> str:
        """Signs the new account in once: it dies with the first sign-in (by link or password) and after a day."""
        stamp = user.last_sign_in_at.isoformat() if user.last_sign_in_at else ""
        token = self.runtime.signer.dumps(WELCOME_PURPOSE, {"u": str(user.id), "s": stamp})
        return f"{self.runtime.settings.app.public_url}/signup/welcome/{token}"

    async def sign_in_with_welcome_link(self, token: str) -> User:
        invalid = InvalidInput(
            {"token": gettext("This link was already used or has expired. Sign in with your password.")}
        )
        payload = self.runtime.signer.loads(WELCOME_PURPOSE, token, int(WELCOME_LINK_LIFETIME.total_seconds()))
        try:
            user_id = UUID(str((payload or {})["u"]))
        except (KeyError, ValueError) as exc:
            raise invalid from exc
        user = await self.session.get(User, user_id, with_for_update=True)
        stamp = user.last_sign_in_at.isoformat() if user is not None and user.last_sign_in_at else ""
        if user is None or not user.is_active or payload is None or payload.get("s") != stamp:
            raise invalid
        user.last_sign_in_at = self.runtime.clock.now()
        return user

    async def _create_account(self, data: SignUp, *, welcome_link: bool = False) -> User:
        user = User(
            email=data.email,
            password_hash=self.runtime.passwords.hash(data.password),
            kind=data.kind,
            full_name=data.full_name,
            timezone=i18n.normalise_zone(data.timezone) or i18n.DEFAULT_ZONE,
            locale=i18n.normalise_locale(data.locale),
        )
        try:
            async with self.session.begin_nested():
                self.session.add(user)
                await self.session.flush()
        except IntegrityError as exc:
            # Two sign-ups racing for the same address: the unique index decides.
            raise InvalidInput(
                {"email": gettext("An account with this email already exists. Sign in instead?")}
            ) from exc
        if data.kind is UserKind.BRAND:
            brand = Brand(name=data.brand_name)
            self.session.add(brand)
            await self.session.flush()
            self.session.add(BrandMember(brand_id=brand.id, user_id=user.id, role=BrandRole.OWNER))
        else:
            self.session.add(Creator(user_id=user.id, display_name=data.display_name))
        await self.session.flush()
        await send_email(
            self.session,
            user.email,
            "welcome",
            category="account",
            user=user,
            public_url=self.runtime.settings.app.public_url,
            link=self.welcome_link(user) if welcome_link else None,
        )
        return user

    async def create_admin(self, email: str, password: str, full_name: str = "PostPact admin") -> User:
        email = normalise_email(email)
        errors: dict[str, str] = {}
        if not valid_email(email):
            errors["email"] = gettext('Enter a valid email address.')
        problems = password_problems(password, email=email)
        if problems:
            errors["password"] = " ".join(problems)
        if not errors and await self.email_taken(email):
            errors["email"] = gettext('An account with this email already exists.')
        if errors:
            raise InvalidInput(errors)
        user = User(
            email=email, password_hash=self.runtime.passwords.hash(password), kind=UserKind.ADMIN, full_name=full_name
        )
        self.session.add(user)
        await self.session.flush()
        return user

    @property
    def throttle(self) -> SignInThrottle:
        return SignInThrottle(self.runtime.rate_limiter, self.runtime.signer)

    async def authenticate(self, email: str, password: str, *, ip: str, device_cookie: str | None = None) -> User:
        """The user, or InvalidInput with one vague message (never say which half was wrong); TooManyRequests while
        this place has guessed too often (accounts/throttle.py)."""
        email = normalise_email(email)
        # An address that can't be valid can't have an account (and NUL would not even reach PostgreSQL).
        user = await self.session.scalar(sa.select(User).where(User.email == email)) if valid_email(email) else None
        place = self.throttle.place(ip, device_cookie, user.id if user else None)
        await self.throttle.check(place, email)
        ok = self.runtime.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            await self.throttle.failed(place, email)
            raise InvalidInput({"password": SIGN_IN_FAILED}, message=SIGN_IN_FAILED)
        await self.throttle.succeeded(place, email)
        if self.runtime.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.runtime.passwords.hash(password)
        user.last_sign_in_at = self.runtime.clock.now()
        return user

    async def request_password_reset(self, email: str, *, ip: str) -> None:
        """Always looks the same to the caller, so the form can't be used to find out who has an account."""
        email = normalise_email(email)
        await self._limit(ip, "reset-ip", PASSWORD_RESET_PER_IP, "Too many reset requests; try again later.")
        if not valid_email(email):
            raise InvalidInput({"email": gettext('Enter a valid email address.')})
        decision = await self.runtime.rate_limiter.hit(f"reset-account:{email}", PASSWORD_RESET_PER_ACCOUNT)
        if not decision.allowed:
            return
        user = await self.session.scalar(sa.select(User).where(User.email == email, User.is_active.is_(True)))
        if user is None:
            return
        now = self.runtime.clock.now()
        reset = PasswordReset(user_id=user.id, expires_at=now + RESET_LINK_LIFETIME, requested_ip=ip[:64])
        self.session.add(reset)
        await self.session.flush()
        token = self.runtime.signer.dumps(RESET_PURPOSE, {"r": str(reset.id), "u": str(user.id)})
        link = f"{self.runtime.settings.app.public_url}/password/reset/{token}"
        await send_email(
            self.session,
            user.email,
            "password_reset",
            category="account",
            user=user,
            link=link,
            minutes=int(RESET_LINK_LIFETIME.total_seconds() // 60),
        )

    async def _reset_for_token(self, token: str) -> tuple[PasswordReset, User]:
        invalid = InvalidInput({"token": gettext('This reset link is invalid or has expired. Ask for a new one.')})
        payload = self.runtime.signer.loads(RESET_PURPOSE, token, int(RESET_LINK_LIFETIME.total_seconds()))
        if payload is None:
            raise invalid
        try:
            reset_id, user_id = UUID(str(payload["r"])), UUID(str(payload["u"]))
        except (KeyError, ValueError) as exc:
            raise invalid from exc
        reset = await self.session.get(PasswordReset, reset_id, with_for_update=True)
        now = self.runtime.clock.now()
        if reset is None or reset.user_id != user_id or reset.used_at is not None or as_utc(reset.expires_at) <= now:
            raise invalid
        user = await self.session.get(User, user_id)
        if user is None or not user.is_active:
            raise invalid
        return reset, user

    async def check_reset_token(self, token: str) -> User:
        return (await self._reset_for_token(token))[1]

    async def reset_password(self, token: str, new_password: str) -> User:
        reset, user = await self._reset_for_token(token)
        problems = password_problems(new_password, email=user.email)
        if problems:
            raise InvalidInput({"password": " ".join(problems)})
        now = self.runtime.clock.now()
        user.password_hash = self.runtime.passwords.hash(new_password)
        # Every outstanding link for this user dies with this one: a leaked older link is useless.
        await self.session.execute(
            sa.update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        reset.used_at = now
        return user

    async def token_for_credentials(self, email: str, password: str, name: str, *, ip: str) -> tuple[ApiToken, str]:
        # Throttled like the sign-in page (failures only): an office behind one address gets its tokens.
        user = await self.authenticate(email, password, ip=ip)
        return await self.create_api_token(user.id, name)

    async def create_api_token(self, user_id: UUID, name: str) -> tuple[ApiToken, str]:
        name = re.sub(r"\s+", " ", name).strip()
        if not name:
            raise InvalidInput({"name": gettext("Give the token a name, like 'Shopify sync'.")})
        if len(name) > 80:
            raise InvalidInput({"name": gettext('Token name must be at most 80 characters.')})
        raw = new_api_token()
        token = ApiToken(user_id=user_id, name=name, token_digest=token_digest(raw), token_prefix=raw[:10])
        self.session.add(token)
        await self.session.flush()
        return token, raw

    async def list_api_tokens(self, user_id: UUID) -> list[ApiToken]:
        result = await self.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc())
        )
        return list(result)

    async def revoke_api_token(self, user_id: UUID, token_id: UUID) -> ApiToken:
        token = await self.session.scalar(
            sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id).with_for_update()
        )
        if token is None:
            raise NotFound(gettext('No such token.'))
        if token.revoked_at is None:
            token.revoked_at = self.runtime.clock.now()
        return token

    # -- language and time zone

    async def set_preferences(self, user_id: UUID, changes: Mapping[str, str | None]) -> User:
        """The language (``None``: follow the browser's) and the time zone everything is shown in, for the account
        page and ``PATCH /api/v1/me`` alike. Only the keys given change; a language is one of ``i18n.LANGUAGES`` and
        a zone an IANA name ("Asia/Shanghai"), else InvalidInput names the field and nothing changes."""
        errors: dict[str, str] = {}
        if "locale" in changes and changes["locale"] is not None and changes["locale"] not in i18n.LANGUAGES:
            errors["locale"] = gettext("Choose one of the languages offered.")
        zone = changes.get("timezone")
        if "timezone" in changes and (zone is None or i18n.normalise_zone(zone) != zone):
            errors["timezone"] = gettext("Choose a time zone from the list, such as Asia/Shanghai.")
        if errors:
            raise InvalidInput(errors)
        user = await self.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound(gettext("No such account."))
        if "locale" in changes:
            user.locale = changes["locale"]
        if "timezone" in changes:
            user.timezone = str(zone)
        await self.session.flush()
        return user
