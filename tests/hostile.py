"""Hostile text: strings that must be stored, shown and emailed literally, never evaluated.

Each entry is (name, text). Used by tests/test_hostile_text.py; other tests may import it.
No NUL: PostgreSQL text columns refuse it outright (a 400 at the form, not a display issue).
"""

from __future__ import annotations

LONG = "x" * 4999 + "<b>mid</b>" + "y" * 4990 + "END"  # 9,999 + 3 = 10,002 characters

HOSTILE: list[tuple[str, str]] = [
    ("script", "<script>alert('xss')</script>"),
    ("jinja expression", "{{ 7*7 }}"),
    ("jinja statement", "{% if true %}evaluated{% endif %}"),
    ("jinja config", "{{ config.SECRET_KEY }}{{ self.__init__.__globals__ }}"),
    ("helpspot 4 placeholder", "##REQUESTID## ##EMAIL## ##CUSTOM1##"),
    ("helpspot 5 placeholder", "{{ $requestid }} {{ $email }}"),
    ("attribute breakout", "\"><img src=x onerror=alert(1)>"),
    ("single-quote breakout", "'><svg onload=alert(1)>"),
    ("javascript url", "javascript:alert(document.cookie)"),
    ("html entity", "&lt;script&gt; &amp; &#x3C;b&#x3E;"),
    ("sql", "Robert'); DROP TABLE tickets;--"),
    ("csv formula", "=cmd|' /C calc'!A0"),
    ("csv formula plus", "+SUM(1,2)@evil"),
    ("control characters", "bell\x07 escape\x1b[31mred\x1b[0m tab\tend"),
    ("rtl override", "invoice\u202egnp.exe"),
    ("zero width and emoji", "z\u200bw\u200dj 😀👩‍👩‍👧 ✓"),
    ("newlines", "line one\r\nline two\nline three"),
    ("long", LONG),
]

IDS = [name for name, _ in HOSTILE]
TEXTS = [text for _, text in HOSTILE]
