"""Password hashing (argon2id), password rules, signed links and API token digests."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

# OWASP's recommended argon2id floor; tests pass a cheaper hasher to stay fast.
DEFAULT_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2, type=Type.ID)
_DUMMY_HASH: dict[int, str] = {}


def password_problems(password: str, *, email: str = "") -> list[str]:
    """The minimum rules, phrased so the form can show them as they are."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")
    if password and len(set(password)) < 4:
        problems.append("Password must use at least 4 different characters.")
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in password.lower():
        problems.append("Password must not contain your email name.")
    return problems


@dataclass
class Passwords:
    hasher: PasswordHasher = DEFAULT_HASHER

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists, so timing doesn't reveal which emails are registered."""
        if not stored_hash:
            key = id(self.hasher)
            if key not in _DUMMY_HASH:
                _DUMMY_HASH[key] = self.hasher.hash(secrets.token_hex(16))
            stored_hash = _DUMMY_HASH[key]
            with contextlib.suppress(VerificationError, InvalidHashError):
                self.hasher.verify(stored_hash, password + "x")
            return False
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


class Signer:
    """Signed, expiring payloads for links sent by email (password reset, team invitations)."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return URLSafeTimedSerializer(self._secret, salt=f"postpact.{purpose}").dumps(payload)

    def loads(self, purpose: str, token: str, max_age_seconds: int) -> dict[str, Any] | None:
        """The payload, or None if the token was tampered with, is for another purpose, or has expired."""
        try:
            value = URLSafeTimedSerializer(self._secret, salt=f"postpact.{purpose}").loads(
                token, max_age=max_age_seconds
            )
        except (BadSignature, SignatureExpired):
            return None
        return value if isinstance(value, dict) else None


API_TOKEN_PREFIX = "pp_"  # noqa: S105 - a visible prefix, not a secret


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """API tokens carry 256 random bits, so a fast digest is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_fingerprint(password_hash: str, secret_key: str) -> str:
    """Stored in the session: changing the password changes it, which signs out every other session."""
    return hmac.new(secret_key.encode(), password_hash.encode(), hashlib.sha256).hexdigest()[:16]
