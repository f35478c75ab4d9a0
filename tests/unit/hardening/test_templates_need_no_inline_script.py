"""The pages' Content-Security-Policy allows scripts from our own origin (and Stripe's) only: no template may rely on
inline script, inline event handlers, inline styles or javascript: links, which the browser would then refuse."""

from __future__ import annotations

import re

from marketplace.settings import PROJECT_ROOT

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def test_there_are_templates_to_check() -> None:
    assert len(TEMPLATES) > 20


def test_no_template_uses_inline_script_handlers_or_styles() -> None:
    found = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, INLINE_STYLE, JAVASCRIPT_URL):
            found.extend(f"{path.relative_to(PROJECT_ROOT)}: {m.group(0)[:80]}" for m in pattern.finditer(text))
    assert not found, found
