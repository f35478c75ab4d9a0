"""Store secrets at rest: Fernet tokens under keys from settings (rotatable), or one derived from SECRET_KEY."""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from marketplace.settings import Settings

#: Distinct from every other use of SECRET_KEY, so this derived key never equals a session or CSRF key.
_HKDF_INFO = b"postpact stores secrets v1"


class SecretUnreadable(RuntimeError):
    """A stored secret no configured key opens (the key was removed from STORES_ENCRYPTION_KEYS)."""


def derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


class SecretBox:
    """Encrypts with the first key, decrypts with any: add a new key in front, re-encrypt (``rotate``), drop the old."""

    def __init__(self, keys: list[bytes]) -> None:
        self._primary = Fernet(keys[0])
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        keys = [k.encode() for k in settings.stores.encryption_keys] or [derived_key(settings.app.secret_key)]
        return cls(keys)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("a store secret can't be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    def is_current(self, token: str) -> bool:
        """Whether the newest key sealed it (else ``rotate`` it)."""
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True


def hint(secret: str) -> str:
    """The only part of a secret shown again: its last 4 characters."""
    return secret[-4:] if len(secret) >= 8 else ""


def masked(last4: str | None) -> str:
    return "\N{BULLET}" * 8 + last4 if last4 else "\N{BULLET}" * 8


def new_signing_secret() -> str:
    """The secret a custom store signs its pushes with (``pps_`` + 32 random bytes)."""
    return "pps_" + secrets.token_urlsafe(32)
