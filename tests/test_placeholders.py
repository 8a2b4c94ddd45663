"""Placeholders: both spellings, escaping by context, hostile values, errors when saving."""

from __future__ import annotations

import pytest

from helpdesk.mail.placeholders import (
    ALIASES,
    PLACEHOLDERS,
    available,
    canonical,
    find_errors,
    render,
)

VALUES = {
    "REQUESTID": "42",
    "FIRSTNAME": "Pat",
    "LASTNAME": "Smith",
    "FULLNAME": "Pat Smith",
    "EMAIL": "pat@example.com",
    "PHONE": "+1 555 0100",
    "CUSTOMERID": "7",
    "STATUS": "Problem Solved",
    "CATEGORY": "Billing",
    "ASSIGNEDTO": "Alex Agent",
    "ASSIGNEDTOEMAIL": "agent@example.com",
    "SUBJECT": "Printer on fire",
    "DATEOPENED": "2026-06-26 14:03 UTC",
    "HELPDESKURL": "https://help.example.com",
    "CUSTOM1": "Pro",
}


def test_every_placeholder_has_a_value_in_the_table():
    assert set(PLACEHOLDERS) | {"CUSTOM1"} == set(VALUES)


@pytest.mark.parametrize("name", sorted(PLACEHOLDERS) + ["CUSTOM1"])
def test_every_placeholder_renders_in_both_spellings_and_any_case(name):
    expected = f"[{VALUES[name]}]"
    for template in (f"[##{name}##]", f"[##{name.lower()}##]", "[{{ $" + name.lower() + " }}]",
                     "[{{$" + name + "}}]", "[{{  $" + name.title() + "\t}}]"):
        assert render(template, VALUES) == expected, template
        assert find_errors(template, [1]) == []


@pytest.mark.parametrize("alias, name", sorted(ALIASES.items()))
def test_helpspot5_short_names(alias, name):
    assert render("{{ $" + alias.lower() + " }}", VALUES) == VALUES[name]
    assert render(f"##{alias}##", VALUES) == VALUES[name]
    assert find_errors("{{ $" + alias.lower() + " }}") == []


@pytest.mark.parametrize("written, canon", [
    ("requestid", "REQUESTID"), ("fname", "FIRSTNAME"), ("Custom3", "CUSTOM3"),
    ("CUSTOM003", "CUSTOM3"), ("custom", None), ("nope", None), ("CUSTOMx", None),
])
def test_canonical(written, canon):
    assert canonical(written) == canon


@pytest.mark.parametrize("template, values, mode, expected", [
    # text: values as they are
    ("Hi ##FIRSTNAME##", {"FIRSTNAME": "<b>Pat</b> & co"}, "text", "Hi <b>Pat</b> & co"),
    # html: escaped outside links, attribute values included
    ("<p>Hi ##FIRSTNAME##</p>", {"FIRSTNAME": "<b>Pat</b> & co"}, "html",
     "<p>Hi &lt;b&gt;Pat&lt;/b&gt; &amp; co</p>"),
    ('<img alt="##FIRSTNAME##">', {"FIRSTNAME": '"><script>x</script>'}, "html",
     '<img alt="&#34;&gt;&lt;script&gt;x&lt;/script&gt;">'),
    # a known placeholder without a value is empty; an unknown one stays as written
    ("[##CUSTOM9##][##NOPE##][{{ $nope }}]", {}, "text", "[][##NOPE##][{{ $nope }}]"),
    # text that merely looks a bit like a placeholder is left alone
    ("## Heading, issue ##1234, C#, ###", {}, "text", "## Heading, issue ##1234, C#, ###"),
    ("##A####REQUESTID##", {"REQUESTID": "5"}, "text", "##A##5"),
])
def test_render_by_mode(template, values, mode, expected):
    assert render(template, values, mode) == expected


HOSTILE = [
    "Pro & Co", "a=b", "x#frag", "two words", '"><script>alert(1)</script>', "{{ 7*7 }}",
    "##SUBJECT##", "{{ $subject }}", "../../etc", "?q=1", "ünïcödé", "100%", "+plus",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("mode", ["text", "html"])
def test_values_in_a_bare_link_query_are_url_encoded(value, mode):
    from urllib.parse import parse_qs, quote, urlsplit

    template = "Rate us: https://t.example/s/5f2b?xrequest=##REQUESTID##&plan=##CUSTOM1## thanks"
    out = render(template, {"REQUESTID": "42", "CUSTOM1": value, "SUBJECT": "S"}, mode)
    link = out.split(" ")[2]
    assert link == f"https://t.example/s/5f2b?xrequest=42&plan={quote(value, safe='')}"
    assert parse_qs(urlsplit(link).query) == {"xrequest": ["42"], "plan": [value]}
    assert out.endswith(" thanks")


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("quote_char", ['"', "'"])
def test_values_in_an_href_query_are_url_encoded(value, quote_char):
    from urllib.parse import parse_qs, urlsplit

    from bs4 import BeautifulSoup

    template = (f"<p>Dear ##FIRSTNAME##,</p><a href={quote_char}https://t.example/s/k?"
                "xrequest={{ $requestid }}&amp;plan=##CUSTOM1##" + quote_char + ">##CUSTOM1##</a>")
    out = render(template, {"REQUESTID": "42", "CUSTOM1": value, "FIRSTNAME": value,
                            "SUBJECT": "S"}, "html")
    soup = BeautifulSoup(out, "html.parser")
    anchors = soup.find_all("a")
    assert len(anchors) == 1 and soup.find("script") is None
    href = anchors[0]["href"]
    assert parse_qs(urlsplit(href).query) == {"xrequest": ["42"], "plan": [value]}
    assert anchors[0].get_text() == value  # the link text is escaped text, not markup
    assert soup.find("p").get_text() == f"Dear {value},"


@pytest.mark.parametrize("template, expected", [
    # relative links in href are links too
    ('<a href="/s/k?x=##CUSTOM1##">', '<a href="/s/k?x=a%26b%3Dc">'),
    # a value at the start of a link cannot become its scheme (javascript:...)
    ('<a href="##FIRSTNAME##">', '<a href="javascript%3Aalert%281%29">'),
    # HELPDESKURL at the start of a link is its base, inserted as is (HTML-escaped)
    ('<a href="##HELPDESKURL##/r/##REQUESTID##?p=##CUSTOM1##">',
     '<a href="https://h.example/x?a=1&amp;b=2/r/42?p=a%26b%3Dc">'),
    # a bare link in HTML text is a link as well
    ("<p>https://t/?p=##CUSTOM1##</p>", "<p>https://t/?p=a%26b%3Dc</p>"),
    # the value of a non-link attribute is escaped, not encoded
    ('<td title="##CUSTOM1##">', '<td title="a&amp;b=c">'),
])
def test_link_contexts_in_html(template, expected):
    values = {"REQUESTID": "42", "CUSTOM1": "a&b=c", "FIRSTNAME": "javascript:alert(1)",
              "HELPDESKURL": "https://h.example/x?a=1&b=2"}
    assert render(template, values, "html") == expected


@pytest.mark.parametrize("template, expected", [
    ("##HELPDESKURL##/r/##REQUESTID##?p=##CUSTOM1##", "https://h.example/r/42?p=a%20b"),
    ("{{ $helpdeskurl }}/r/{{ $requestid }}", "https://h.example/r/42"),
    ("mailto:##EMAIL##?subject=##CUSTOM1##", "mailto:p%2Bx%40e.com?subject=a%20b"),
    ("<https://t/?p=##CUSTOM1##>", "<https://t/?p=a%20b>"),
    # a link ends at whitespace: what follows is text again
    ("https://t/?p=1 ##CUSTOM1##", "https://t/?p=1 a b"),
])
def test_link_contexts_in_text(template, expected):
    values = {"REQUESTID": "42", "CUSTOM1": "a b", "EMAIL": "p+x@e.com",
              "HELPDESKURL": "https://h.example"}
    assert render(template, values, "text") == expected


@pytest.mark.parametrize("value", ["##SUBJECT##", "{{ $subject }}", "{{ 7*7 }}", "{% if 1 %}x{% endif %}",
                                   "##CUSTOM1##", "${7*7}"])
def test_values_are_never_rescanned_or_evaluated(value):
    values = {"FIRSTNAME": value, "SUBJECT": "SECRET", "CUSTOM1": "SECRET"}
    assert render("Hi ##FIRSTNAME##!", values) == f"Hi {value}!"
    assert "SECRET" not in render("<p>{{ $fname }}</p>", values, "html")


def test_render_refuses_an_unknown_mode():
    with pytest.raises(ValueError):
        render("x", {}, "markdown")


@pytest.mark.parametrize("template, errors", [
    ("Hi ##FIRSTNAME##, ##REQUESTID## {{ $requestid }} ##CUSTOM1##", []),
    ("##FOO##", ["Unknown placeholder ##FOO##"]),
    ("{{ $foo }}", ["Unknown placeholder {{ $foo }}"]),
    ("id ##REQUESTID", ["Unterminated placeholder '##REQUESTID': close it with ## (##REQUESTID##)"]),
    ("id ##REQUESTID# and more", [("Unterminated placeholder '##REQUESTID': close it with ## "
                                  "(##REQUESTID##)")]),
    ("id {{ $requestid and more", [("Unterminated placeholder '{{ $requestid': close it with }} "
                                   "({{ $requestid }})")]),
    ("{{ requestid }}", [("'{{ requestid }}' is not a placeholder: HelpSpot 5 placeholders look "
                         "like {{ $requestid }}")]),
    ("{{ 7*7 }}", [("'{{ 7*7 }}' is not a placeholder: HelpSpot 5 placeholders look like "
                   "{{ $requestid }}")]),
    ("##CUSTOM2## {{ $custom2 }}", ["##CUSTOM2## names no custom field (custom field ids: 1)",
                                    "{{ $custom2 }} names no custom field (custom field ids: 1)"]),
    ("##FOO## ##FOO##", ["Unknown placeholder ##FOO##"]),  # one message per problem
    ("## Heading, issue ##1234, C#", []),
])
def test_find_errors(template, errors):
    assert find_errors(template, [1]) == errors


def test_find_errors_with_no_custom_fields():
    assert find_errors("##CUSTOM1##") == ["##CUSTOM1## names no custom field (custom field ids: none)"]


def test_anything_find_errors_accepts_renders_completely():
    template = " ".join(f"##{n}##" for n in PLACEHOLDERS) + " {{ $custom1 }} {{ $fname }}"
    assert find_errors(template, [1]) == []
    out = render(template, VALUES)
    assert "##" not in out and "{{" not in out


def test_available_lists_custom_fields_last():
    rows = available({3: "Region", 1: "Plan"})
    assert rows[0] == ("##REQUESTID##", PLACEHOLDERS["REQUESTID"])
    assert rows[-2:] == [("##CUSTOM1##", "Custom field 1: Plan"),
                         ("##CUSTOM3##", "Custom field 3: Region")]


def test_placeholders_module_imports_no_flask_and_no_app_code():
    import ast
    from pathlib import Path

    import helpdesk.mail.placeholders as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative and "flask" not in imported and "helpdesk" not in imported
