"""Placeholders in email subjects and bodies: one renderer for every send path. No Flask.

Two spellings, the same names, case-insensitive:

- HelpSpot 4: ``##REQUESTID##``, ``##FIRSTNAME##``, ``##CUSTOM3##``
- HelpSpot 5: ``{{ $requestid }}``, ``{{ $firstname }}``, ``{{ $custom3 }}`` (spaces inside the
  braces optional). HelpSpot 5's short names are aliases, accepted in both spellings:
  ``fname`` = FIRSTNAME, ``lname`` = LASTNAME, ``assigned`` = ASSIGNEDTO,
  ``assignedemail`` = ASSIGNEDTOEMAIL, ``customer_id`` = CUSTOMERID, ``request_id`` = REQUESTID.

Rendering is one left-to-right pass of one regex (never Jinja): a value is inserted as data
and never scanned again, so a customer whose name is ``##SUBJECT##`` or ``{{ 7*7 }}`` gets
exactly that text back.

How a value is written depends on where its placeholder stands in the template:

- **inside a link** (see below): percent-encoded with ``urllib.parse.quote(value, safe="")``,
  so ``&``, ``=``, ``#``, ``?``, ``/``, spaces and quotes cannot add parameters, end the query
  or leave the attribute. The one exception is ``##HELPDESKURL##`` standing at the very start
  of a link: it *is* the link's base (from config) and is inserted as is.
- **elsewhere in an HTML body**: HTML-escaped with markupsafe.
- **elsewhere in a text body or subject**: as is.

A link is, in the template text (placeholders count as part of the link they stand in):

- a bare URL: ``http://``, ``https://`` or ``mailto:`` up to the next whitespace, quote or
  ``<``/``>``; or a run starting with ``##HELPDESKURL##`` (``{{ $helpdeskurl }}``) and
  running the same way;
- in HTML mode, also the whole value of an ``href``, ``src`` or ``action`` attribute, quoted
  with ``"`` or ``'``, whatever it starts with (relative links too).

So ``?xrequest=##REQUESTID##&plan=##CUSTOM1##`` in either kind of body is a link's query
string, and ``plan=Pro & Co`` arrives as ``plan=Pro%20%26%20Co``. (Path segments of a link
are encoded the same way, which is what a path needs too.)

Unknown placeholders are left as they are when rendering; :func:`find_errors` refuses them
(and unterminated ones) when a rule or template is saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import quote

from markupsafe import escape

Mode = Literal["text", "html"]

# Name -> description, in HelpSpot 4 spelling. CUSTOMn is added per custom field.
PLACEHOLDERS: dict[str, str] = {
    "REQUESTID": "The request's id",
    "FIRSTNAME": "Customer's first name",
    "LASTNAME": "Customer's last name",
    "FULLNAME": "Customer's first and last name",
    "EMAIL": "Customer's email address",
    "PHONE": "Customer's phone number",
    "CUSTOMERID": "Customer's id",
    "STATUS": "The request's status",
    "CATEGORY": "The request's category",
    "ASSIGNEDTO": "Name of the staff member the request is assigned to",
    "ASSIGNEDTOEMAIL": "Email address of the staff member the request is assigned to",
    "SUBJECT": "The request's subject",
    "DATEOPENED": "When the request was opened (UTC)",
    "HELPDESKURL": "The helpdesk's address, e.g. https://help.example.com",
}
CUSTOM_DESCRIPTION = "Custom field {id}: {name}"

# HelpSpot 5 short names (lower case) -> canonical name. The long names work as well.
ALIASES: dict[str, str] = {
    "FNAME": "FIRSTNAME",
    "LNAME": "LASTNAME",
    "ASSIGNED": "ASSIGNEDTO",
    "ASSIGNEDEMAIL": "ASSIGNEDTOEMAIL",
    "CUSTOMER_ID": "CUSTOMERID",
    "REQUEST_ID": "REQUESTID",
}

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
# Both spellings of a complete placeholder. Group hs4 or hs5 holds the name.
_PH = rf"##(?P<hs4>{_NAME})##|\{{\{{[ \t]*\$(?P<hs5>{_NAME})[ \t]*\}}\}}"
_PH_ANON = rf"##{_NAME}##|\{{\{{[ \t]*\${_NAME}[ \t]*\}}\}}"
PLACEHOLDER_RE = re.compile(_PH)
_BASE_PH = r"(?:##HELPDESKURL##|\{\{[ \t]*\$helpdeskurl[ \t]*\}\})"
_URL_CHARS = rf"(?:{_PH_ANON}|[^\s\"'<>])*"
_BARE_URL = rf"(?:(?:https?://|mailto:)|{_BASE_PH}){_URL_CHARS}"
# At each position, in this order: a link attribute (HTML only), a bare link, a placeholder.
_TEXT_RE = re.compile(rf"(?P<url>{_BARE_URL})|{_PH}", re.IGNORECASE)
_HTML_RE = re.compile(
    rf"(?P<attr>\b(?:href|src|action)[ \t\r\n]*=[ \t\r\n]*)"
    rf"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')"
    rf"|(?P<url>{_BARE_URL})|{_PH}",
    re.IGNORECASE,
)
_CUSTOM_RE = re.compile(r"CUSTOM0*(\d+)")

# Anything that looks like an attempt at a placeholder, complete or not (for find_errors).
_ATTEMPT_RE = re.compile(
    rf"##(?P<hs4>{_NAME})(?P<hs4_end>##)?"
    rf"|\{{\{{(?P<hs5_body>[ \t]*(?P<dollar>\$)?(?P<hs5>{_NAME})?[ \t]*)(?P<hs5_end>\}}\}})?"
)


def canonical(name: str) -> str | None:
    """The canonical (HelpSpot 4, upper-case) name of a placeholder, or None if unknown.

    ``CUSTOM003`` becomes ``CUSTOM3``; whether custom field 3 exists is not checked here.
    """
    upper = name.upper()
    upper = ALIASES.get(upper, upper)
    if upper in PLACEHOLDERS:
        return upper
    m = _CUSTOM_RE.fullmatch(upper)
    if m:
        return f"CUSTOM{int(m.group(1))}"
    return None


def available(custom_fields: dict[int, str] | Iterable[tuple[int, str]] = ()
              ) -> list[tuple[str, str]]:
    """(placeholder, description) pairs to list beside an editor, custom fields last."""
    items = custom_fields.items() if isinstance(custom_fields, dict) else custom_fields
    rows = [(f"##{name}##", desc) for name, desc in PLACEHOLDERS.items()]
    rows += [(f"##CUSTOM{fid}##", CUSTOM_DESCRIPTION.format(id=fid, name=fname))
             for fid, fname in sorted(items)]
    return rows


def find_errors(text: str, custom_field_ids: Iterable[int] = ()) -> list[str]:
    """Why this template would not render as written: unknown or unterminated placeholders.

    Returns one message per distinct problem (empty when the text is fine). ``{{`` that is
    not a ``{{ $name }}`` placeholder is refused too, since it can only be a typo here.
    """
    known_custom = {int(i) for i in custom_field_ids}
    errors: list[str] = []

    def add(message: str) -> None:
        if message not in errors:
            errors.append(message)

    for m in _ATTEMPT_RE.finditer(text or ""):
        if m.group("hs4") is not None:
            name, token = m.group("hs4"), f"##{m.group('hs4')}##"
            if m.group("hs4_end") is None:
                add(f"Unterminated placeholder '##{name}': close it with ## (##{name.upper()}##)")
                continue
        else:
            name = m.group("hs5")
            shown = "{{" + m.group("hs5_body")
            if m.group("dollar") is None or name is None:
                snippet = text[m.start():m.start() + 24].splitlines()[0]
                close = snippet.find("}}")
                snippet = snippet[:close + 2] if close >= 0 else snippet
                add(f"'{snippet}' is not a placeholder: HelpSpot 5 placeholders look "
                    "like {{ $requestid }}")
                continue
            token = "{{ $" + name + " }}"
            if m.group("hs5_end") is None:
                add(f"Unterminated placeholder '{shown.rstrip()}': close it with }}}} "
                    f"({token})")
                continue
        canon = canonical(name)
        if canon is None:
            add(f"Unknown placeholder {token}")
        elif canon.startswith("CUSTOM") and canon not in PLACEHOLDERS:
            field_id = int(canon[6:])
            if field_id not in known_custom:
                listed = ", ".join(str(i) for i in sorted(known_custom)) or "none"
                add(f"{token} names no custom field (custom field ids: {listed})")
    return errors


def render(text: str, values: dict[str, str | None], mode: Mode = "text") -> str:
    """Replace every placeholder in ``text`` with its value, in one pass.

    ``values`` maps placeholder names (any case, e.g. ``REQUESTID``, ``CUSTOM1``; as built by
    :func:`helpdesk.mail.values.placeholder_values`) to strings. ``mode`` is ``"text"`` for
    subjects and plain-text bodies, ``"html"`` for HTML bodies (values HTML-escaped).
    Values inside a link are percent-encoded in both modes (see the module docstring).
    A known placeholder without a value renders empty; an unknown one is left as written.
    """
    if mode not in ("text", "html"):
        raise ValueError(f"mode must be 'text' or 'html', not {mode!r}")
    table: dict[str, str] = {}
    for key, value in values.items():
        canon = canonical(key)
        if canon is not None:
            table[canon] = "" if value is None else str(value)
    html = mode == "html"

    def value_of(m: re.Match) -> str | None:
        canon = canonical(m.group("hs4") or m.group("hs5"))
        return None if canon is None else table.get(canon, "")

    def plain(m: re.Match) -> str:
        value = value_of(m)
        if value is None:
            return m.group(0)
        return str(escape(value)) if html else value

    def in_link(link: str) -> str:
        def one(m: re.Match) -> str:
            value = value_of(m)
            if value is None:
                return m.group(0)
            if m.start() == 0 and canonical(m.group("hs4") or m.group("hs5")) == "HELPDESKURL":
                return str(escape(value)) if html else value
            return quote(value, safe="")  # only [A-Za-z0-9_.~%-]: nothing left to escape

        return PLACEHOLDER_RE.sub(one, link)

    def outer(m: re.Match) -> str:
        if m.group("url") is not None:
            return in_link(m.group("url"))
        if html and m.group("attr") is not None:
            quote_char = '"' if m.group("dq") is not None else "'"
            inner = m.group("dq") if m.group("dq") is not None else m.group("sq")
            return f"{m.group('attr')}{quote_char}{in_link(inner)}{quote_char}"
        return plain(m)

    return (_HTML_RE if html else _TEXT_RE).sub(outer, text or "")
