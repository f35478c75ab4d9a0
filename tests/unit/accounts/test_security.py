"""Password rules, argon2id hashing and signed links, without a database."""

from __future__ import annotations

import time

from argon2 import PasswordHasher, Type

from marketplace.security import DEFAULT_HASHER, Passwords, Signer, password_problems, token_digest


def test_password_rules_are_explained() -> None:
    assert password_problems("short") == ["Password must be at least 10 characters."]
    assert "at least 4 different characters" in " ".join(password_problems("aaaaaaaaaaaa"))
    assert "email name" in " ".join(password_problems("maya.chen-2026!", email="maya.chen@glowlab.test"))
    assert password_problems("a-decent-passphrase") == []


def test_production_hasher_is_argon2id_with_owasp_parameters() -> None:
    assert DEFAULT_HASHER.type is Type.ID
    assert DEFAULT_HASHER.memory_cost >= 19 * 1024
    stored = Passwords().hash("a-decent-passphrase")
    assert stored.startswith("$argon2id$")
    assert Passwords().verify(stored, "a-decent-passphrase")
    assert not Passwords().verify(stored, "a-decent-passphrasE")


def test_missing_account_still_costs_a_hash() -> None:
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    assert passwords.verify(None, "whatever-password") is False
    assert passwords.verify("not-a-hash", "whatever-password") is False


def test_rehash_needed_when_parameters_change() -> None:
    weak = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    strong = Passwords(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1, type=Type.ID))
    stored = weak.hash("a-decent-passphrase")
    assert not weak.needs_rehash(stored)
    assert strong.needs_rehash(stored)


def test_signed_links_reject_tampering_other_purposes_and_age() -> None:
    signer = Signer("k" * 40)
    token = signer.dumps("password-reset", {"r": "abc"})
    assert signer.loads("password-reset", token, 60) == {"r": "abc"}
    assert signer.loads("team-invite", token, 60) is None
    assert signer.loads("password-reset", token[:-2] + "xx", 60) is None
    assert Signer("other" * 10).loads("password-reset", token, 60) is None
    time.sleep(1.1)
    assert signer.loads("password-reset", token, 0) is None


def test_token_digest_is_stable_and_not_the_token() -> None:
    assert token_digest("pp_abc") == token_digest("pp_abc")
    assert token_digest("pp_abc") != "pp_abc"
    assert len(token_digest("pp_abc")) == 64
