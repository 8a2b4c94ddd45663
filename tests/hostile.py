"""Hostile text: strings that must be stored, shown and emailed literally, never evaluated.

Each entry is (name, text). Used by tests/test_hostile_text.py; other tests may import it.
No NUL: PostgreSQL text columns refuse it outright (a 400 at the form, not a display issue).
"""

from __future__ import annotations

from bs4 import BeautifulSoup

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

# the scripts the app's templates load (static/), the only ones a page may carry
APP_SCRIPTS = {"/static/sidebar-counts.js", "/static/filter-builder.js"}
ACTIVE_TAGS = ("script", "img", "svg", "iframe", "object", "embed", "b")


def assert_inert(page: BeautifulSoup, where: str) -> None:
    """No element or event handler was created from data.

    The app's own markup has none of them but its scripts, each an empty element loading a
    file of static/; any other script (inline, or from elsewhere) came from data.
    """
    own = [s for s in page.find_all("script") if s.get("src") in APP_SCRIPTS
           and not s.get_text() and set(s.attrs) <= {"src", "defer"}]
    for tag in ACTIVE_TAGS:
        found = [t for t in page.find_all(tag) if not any(t is o for o in own)]
        assert found == [], f"<{tag}> on {where}"
    handlers = [(t.name, a) for t in page.find_all(True) for a in t.attrs
                if a.lower().startswith("on")]
    assert handlers == [], where
    links = [a["href"] for a in page.find_all("a", href=True)
             if a["href"].strip().lower().startswith("javascript:")]
    assert links == [], where
