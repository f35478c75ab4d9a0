"""Acceptance: every user-facing string goes through gettext, and the Chinese catalog translates every message.

Three checks, each failing with a list grouped by area (so whoever finishes a sweep sees exactly what is left):
- templates (pages and emails): literal text, user-visible attributes and human-looking string arguments (labels,
  hints) outside ``_()`` / ``{% trans %}``;
- Python: messages people read (flashes, form and field errors, business errors that become problem details,
  field labels) written as plain or f-strings instead of ``_()``/``gettext``/``N_``/``lazy_gettext``;
- the catalog: every message id extracted from the code (``babel.cfg``, as ``make messages`` does) has a
  non-empty, non-fuzzy Simplified Chinese translation with the same placeholders.
"""

from __future__ import annotations

import ast
import html
import re
from collections import defaultdict
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import nodes

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "templates"
CATALOG = ROOT / "marketplace" / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"

#: Words that are the same in every language (names, codes) and may stand alone in a template.
UNTRANSLATED = {"PostPact", "TikTok", "Instagram", "YouTube", "Shopify", "WooCommerce", "Stripe", "CSV", "API", "URL",
                "UTC", "USD", "EUR", "ID", "OK", "htmx", "JSON", "SKU", "ROI", "GMV", "AOV"}
GETTEXT_NAMES = {"_", "gettext", "ngettext", "pgettext", "npgettext", "N_", "lazy_gettext", "Message"}
USER_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"')
LETTERS = re.compile(r"[A-Za-z]{2,}")


def _area(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def _report(found: list[tuple[str, int, str]], what: str) -> str:
    by_area: dict[str, list[str]] = defaultdict(list)
    for path, line, text in found:
        by_area[_area(path)].append(f"    {path}:{line}: {text[:90]!r}")
    lines = [f"{len(found)} {what} in {len(by_area)} areas (mark them with _() / {{% trans %}}, then `make messages`):"]
    for area in sorted(by_area, key=lambda a: -len(by_area[a])):
        lines.append(f"  {area}: {len(by_area[area])}")
        lines.extend(by_area[area][:6])
        if len(by_area[area]) > 6:
            lines.append(f"    ... and {len(by_area[area]) - 6} more")
    return "\n".join(lines)


# --- templates --------------------------------------------------------------------------------------------------


def human_text(text: str) -> bool:
    words = [w for w in LETTERS.findall(text) if w not in UNTRANSLATED]
    return bool(words)


def human_argument(value: str) -> bool:
    """A string literal in a template expression that reads like words for people (a label, a hint)."""
    if not LETTERS.search(value) or "{" in value or value.startswith(("/", "#", ".", "http", "_", "%")):
        return False
    if re.fullmatch(r"[a-z0-9_.\-/:]+", value) or re.fullmatch(r"[A-Z0-9_]{1,5}", value):
        return False
    if value.endswith((".html", ".txt")) or value in UNTRANSLATED or '="' in value:
        return False  # template names, brand names, HTML attributes passed to a macro
    if re.fullmatch(r"[a-z][\w\- ]*", value) and len(value.split()) <= 2:
        return False  # css classes, keys, "text muted"
    return " " in value or value[:1].isupper()


JINJA = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}|\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)


def _blank(match: re.Match[str]) -> str:
    """A Jinja construct becomes a separator that keeps the line count (so reports point at the right line)."""
    return "\x00" + "\n" * match.group(0).count("\n")


def literal_text(source: str, path: str, *, html_markup: bool = True) -> list[tuple[str, int, str]]:
    """Text people read that sits in the template itself, outside every Jinja construct (``{% trans %}`` blocks
    included, which are marked): element text and user-visible attributes."""
    text = JINJA.sub(_blank, source)
    found: list[tuple[str, int, str]] = []
    if html_markup:
        text = re.sub(r"<(script|style)\b.*?</\1>", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.I)
        text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for tag in re.finditer(r"<[^>]*>", text):
            for attribute in USER_ATTRIBUTES.finditer(tag.group(0)):
                if "\x00" not in attribute.group(1) and human_text(attribute.group(1)):
                    found.append((path, text.count("\n", 0, tag.start()) + 1, attribute.group(1)))
        text = re.sub(r"<[^>]*>", lambda m: "\x00" + "\n" * m.group(0).count("\n"), text)
    position = 0
    for piece in re.split(r"([\x00\n])", text):
        if piece not in {"\x00", "\n"} and human_text(html.unescape(piece)) \
                and not re.fullmatch(r"\s*/[\w/.\-]*\s*", piece):  # a path after a link's variable part
            found.append((path, text.count("\n", 0, position) + 1, " ".join(piece.split())))
        position += len(piece)
    return found


class _TemplateWalker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[tuple[str, int, str]] = []

    def visit(self, node: nodes.Node, in_gettext: bool = False) -> None:
        if isinstance(node, nodes.TemplateData):
            return  # literal text is checked on the source (literal_text), where tags are whole
        if isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            return
        if isinstance(node, nodes.Compare | nodes.Getitem | nodes.Getattr) and not isinstance(node, nodes.Getattr):
            return  # comparisons against values and lookups by key are not text for people
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in GETTEXT_NAMES:
            in_gettext = True
        if isinstance(node, nodes.Filter) and node.name in {"format", "join", "replace", "default", "truncate",
                                                              "indent", "trim", "strftime", "attr", "map"}:
            self.visit(node.node, in_gettext) if node.node is not None else None
            return
        if isinstance(node, nodes.Const) and isinstance(node.value, str) and not in_gettext:
            if human_argument(node.value):
                self.found.append((self.path, node.lineno, node.value))
            return
        for child in node.iter_child_nodes():
            self.visit(child, in_gettext)


def unmarked_template_strings() -> list[tuple[str, int, str]]:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    found: list[tuple[str, int, str]] = []
    for path in sorted([*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")]):
        source = path.read_text(encoding="utf-8")
        if path.suffix == ".txt":
            source = re.sub(r"\ASubject:", "", source)
        rel = str(path.relative_to(ROOT))
        found.extend(literal_text(source, rel, html_markup=path.suffix == ".html"))
        walker = _TemplateWalker(rel)
        walker.visit(env.parse(source))
        found.extend(walker.found)
    return found


# --- Python -----------------------------------------------------------------------------------------------------

#: Exceptions whose first argument people read (pages show it, the API puts it in a problem's ``detail``).
MESSAGE_ERRORS = {"NotFound", "Forbidden", "Conflict", "PaymentsUnavailable", "TooManyRequests", "PostPactError",
                  "PermissionDeniedException", "NotAuthorizedException"}
#: Not user-facing: the command line, demo data, migrations.
PYTHON_SKIPPED = {"marketplace/cli.py", "marketplace/seed.py"}


def _is_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (bool(LETTERS.search(node.value)) and " " in node.value.strip()) or bool(
            re.fullmatch(r"[A-Z][a-z]+[.!]?", node.value or ""))
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and LETTERS.search(str(v.value)) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _is_text(node.body) or _is_text(node.orelse)
    if isinstance(node, ast.BinOp):  # "Not ids: " + ", ".join(bad): a message glued to its values
        return _is_text(node.left) or _is_text(node.right)
    return False


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def unmarked_python_messages() -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for path in sorted((ROOT / "marketplace").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if "migrations" in path.parts or rel in PYTHON_SKIPPED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        candidates: list[ast.AST] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name == "flash" and len(node.args) >= 2:
                    candidates.append(node.args[1])
                elif name in MESSAGE_ERRORS and node.args:
                    candidates.append(node.args[0])
                elif name == "InvalidInput":
                    if node.args and isinstance(node.args[0], ast.Dict):
                        candidates.extend(v for v in node.args[0].values if v is not None)
                    candidates.extend(node.args[1:2])
                    candidates.extend(k.value for k in node.keywords if k.arg == "message")
                elif name in {"error", "setdefault"} and len(node.args) == 2 and (
                        name == "error" or "error" in ast.unparse(node.func).lower()):
                    candidates.append(node.args[1])
                candidates.extend(k.value for k in node.keywords if k.arg == "label")
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Subscript) \
                    and "error" in ast.unparse(node.targets[0].value).lower():
                candidates.append(node.value)
        for candidate in candidates:
            if _is_text(candidate):
                found.append((rel, candidate.lineno, ast.unparse(candidate)))
    return found


# --- the catalog ------------------------------------------------------------------------------------------------


def extracted_messages() -> dict[str, str]:
    """Message id -> where it was found, extracted as ``make messages`` does."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    messages: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2),
                                                          "pgettext": ((1, "c"), 2), "N_": None,
                                                          "lazy_gettext": None}):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                messages.setdefault(msgid, f"{filename}:{lineno}")
    return messages


PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalog_problems() -> list[tuple[str, int, str]]:
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh, locale="zh_Hans")
    problems: list[tuple[str, int, str]] = []
    for msgid, where in extracted_messages().items():
        path, _, line = where.rpartition(":")
        entry = catalog.get(msgid)
        if entry is None:
            entry = next((m for m in catalog if isinstance(m.id, tuple) and m.id[0] == msgid), None)
        strings = entry.string if entry is not None else None
        strings = [s for s in (strings if isinstance(strings, tuple) else (strings,)) if s] if strings else []
        if entry is None or not strings or entry.fuzzy:
            problems.append((path, int(line), f"no Chinese for {msgid}"))
        elif any(not set(PLACEHOLDER.findall(s)) <= set(PLACEHOLDER.findall(msgid)) for s in strings):
            # A translation may leave a placeholder out (Chinese needs no plural "s"), never add one.
            problems.append((path, int(line), f"the Chinese uses a placeholder the message doesn't give: {msgid}"))
    return problems


# --- the tests --------------------------------------------------------------------------------------------------


def test_the_checks_can_fail() -> None:
    """The detectors themselves: an unmarked page string, attribute, label and Python message are all caught."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    source = ('<p class="x{% if y %} has-error{% endif %}">Hello there</p>\n<a title="Open deal">{{ _("ok") }}</a>'
              '{{ field("n", "Your name") }}{% if x == "Draft mode" %}{{ _("Marked text") }}{% endif %}'
              '{% trans n=1 %}Fine {{ n }}{% endtrans %}')
    walker = _TemplateWalker("templates/x.html")
    walker.visit(env.parse(source))
    found = literal_text(source, "templates/x.html") + walker.found
    assert [(line, text) for _, line, text in found] == [(2, "Open deal"), (1, "Hello there"), (2, "Your name")]
    tree = ast.parse('flash(request, "Saved it.")\nraise NotFound(f"Gig {gid} not found")\n'
                     'flash(request, _("Ok then"))\nraise Conflict("Not ids: " + ", ".join(bad))')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _call_name(n) in {"flash", "NotFound",
                                                                                         "Conflict"}]
    assert sum(_is_text(c.args[1] if _call_name(c) == "flash" else c.args[0]) for c in calls) == 3


def test_every_template_string_is_marked_for_translation() -> None:
    found = unmarked_template_strings()
    assert not found, _report(found, "unmarked template strings")


def test_every_python_user_message_is_marked_for_translation() -> None:
    found = unmarked_python_messages()
    assert not found, _report(found, "unmarked Python messages")


def test_the_chinese_catalog_translates_every_message() -> None:
    if not CATALOG.exists():
        pytest.fail(f"{CATALOG} is missing")
    problems = catalog_problems()
    assert not problems, _report(problems, "messages without a Chinese translation")
