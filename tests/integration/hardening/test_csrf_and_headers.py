"""CSRF tokens bound to the session, security headers on pages, Secure cookies over HTTPS (through trusted proxies)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.runtime import build_runtime
from marketplace.settings import Settings


def set_cookies(response: Any) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "set-cookie"]


async def test_a_planted_cookie_and_token_pair_from_another_session_is_refused(make_web, people) -> None:
    victim, attacker = await people.creator(), await people.creator()
    as_victim, as_attacker = await make_web(), await make_web()
    await as_attacker.sign_in(attacker.email, attacker.password)
    planted = await as_attacker.csrf_token()  # a pair the server issued, valid for the attacker's own session
    assert (await as_attacker.post("/account/tokens", {"name": "mine"})).status_code == 201
    await as_victim.sign_in(victim.email, victim.password)
    as_victim.client.cookies.set("postpact_csrf", planted, domain="testserver.local")
    forged = await as_victim.post("/account/tokens", [("name", "forged"), ("_csrf_token", planted)], csrf=False)
    assert forged.status_code == 403
    forged_header = await as_victim.client.post("/account/tokens", data={"name": "forged"},
                                                headers={"x-csrftoken": planted})
    assert forged_header.status_code == 403
    # The victim's own page token still works (it lives in the victim's session, not in a cookie).
    page = await as_victim.get("/account")
    own = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    ok = await as_victim.post("/account/tokens", [("name", "real"), ("_csrf_token", own)], csrf=False)
    assert ok.status_code == 201


async def test_sign_in_and_sign_out_give_the_next_form_a_fresh_token(web, people) -> None:
    person = await people.creator()
    before = await web.csrf_token()
    await web.sign_in(person.email, person.password)
    during = await web.csrf_token()
    assert during != before
    stale = await web.post("/account/tokens", [("name", "x"), ("_csrf_token", before)], csrf=False)
    assert stale.status_code == 403
    await web.sign_out()
    after = await web.csrf_token()
    assert after not in (before, during)
    assert (await web.post("/signin", {"email": person.email, "password": person.password})).status_code == 303


async def test_pages_send_anti_framing_and_content_security_headers(web, people) -> None:
    for path in ("/", "/signin", "/no-such-page"):
        response = await web.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-content-type-options"] == "nosniff"
    # No page needs inline script: nothing the CSP would block is left in the templates.
    page = await web.get("/signin")
    assert "<script>" not in page.text and " onclick=" not in page.text


async def _client_for(test_env: dict[str, str], runtime: Any, clock: Any, queue: Any, **env: str) -> AsyncTestClient:
    settings = Settings.from_env({**test_env, **env})
    rt = build_runtime(settings, clock=clock, queue=queue, passwords=runtime.passwords)
    return AsyncTestClient(app=create_app(runtime=rt, run_scheduler=False), base_url="http://testserver.local")


async def test_cookies_are_secure_when_a_trusted_proxy_says_https(test_env, runtime, clock, queue) -> None:
    settings = Settings.from_env({**test_env, "TRUSTED_PROXIES": "10.0.0.0/8"})
    app = create_app(runtime=build_runtime(settings, clock=clock, queue=queue, passwords=runtime.passwords),
                     run_scheduler=False)
    peer = {"address": "10.0.0.5"}

    async def behind_proxy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["client"] = (peer["address"], 50000)
        await app(scope, receive, send)

    async with AsyncTestClient(app=behind_proxy, base_url="http://testserver.local") as c:  # type: ignore[arg-type]
        proxied = await c.get("/signin", headers={"X-Forwarded-Proto": "https"})
        assert set_cookies(proxied) and all("; Secure" in v for v in set_cookies(proxied))
        c.cookies.clear()
        plain = await c.get("/signin")
        assert set_cookies(plain) and not any("Secure" in v for v in set_cookies(plain))
        c.cookies.clear()
        peer["address"] = "198.51.100.1"  # anyone else saying "https" is not believed
        spoofed = await c.get("/signin", headers={"X-Forwarded-Proto": "https"})
        assert set_cookies(spoofed) and not any("Secure" in v for v in set_cookies(spoofed))


async def test_forwarded_headers_count_only_from_trusted_proxies(test_env, runtime, clock, queue) -> None:
    from marketplace.headers import forwarded, parse_trusted_proxies

    proxies = parse_trusted_proxies("10.0.0.0/8")
    chain = b"6.6.6.6, 203.0.113.9, 10.0.0.7"  # the client may prepend anything; our proxies append what they saw
    scope: Any = {"scheme": "http", "client": ("10.1.2.3", 4000),
                  "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", chain)]}
    assert forwarded(scope, proxies) == ("https", "203.0.113.9")
    scope["client"] = ("198.51.100.1", 4000)  # not a proxy of ours: its headers are the caller's own words
    assert forwarded(scope, proxies) == ("http", "198.51.100.1")
    async with await _client_for(test_env, runtime, clock, queue, PUBLIC_URL="https://postpact.example") as c:
        response = await c.get("/signin")
        cookies = set_cookies(response)
        assert cookies and all(v.endswith("; Secure") or "; Secure;" in v for v in cookies)
