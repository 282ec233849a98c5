"""A message's content as HTML (messaging/content.py): links clickable, code spans and line
breaks kept, everything else escaped, on the conversation and the thread page."""

import re

import pytest

from devtools.factories import MessageFactory
from messaging.content import REL, message_html

pytestmark = pytest.mark.django_db

# The injections the suite's other XSS checks use, and the ones links invite.
HOSTILE = [
    "<script>window.injected = 1</script>",
    'Try <script>alert("pwned")</script> on the parrot & parrots',
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">x</a>',
    'https://example.com/"onmouseover="alert(1)',
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "`</code><script>alert(1)</script>`",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_tag_or_attribute_is_ever_written_from_a_message(text):
    html = message_html(text)
    tags = re.findall(r"<(/?[a-z]+)([^>]*)>", html)
    for name, attributes in tags:
        assert name.strip("/") in {"a", "code", "br"}, html
        for attribute, value in re.findall(r'([a-z]+)="([^"]*)"', attributes):
            assert attribute in {"href", "rel", "target"}, html
            if attribute == "href":
                assert value.startswith(("https://", "http://", "mailto:")), html
    assert "javascript:" not in "".join(a for _, a in tags)
    assert "<script" not in html
    assert "onerror=" not in "".join(a for _, a in tags)


def test_written_links_are_clickable_and_open_apart():
    html = message_html("see https://example.com/a?b=1&c=2 and www.example.org, mail a@b.com")
    assert (
        f'<a href="https://example.com/a?b=1&amp;c=2" rel="{REL}" target="_blank">'
        "https://example.com/a?b=1&amp;c=2</a>" in html
    )
    assert f'<a href="http://www.example.org" rel="{REL}" target="_blank">' in html
    assert 'href="mailto:a@b.com"' in html


def test_names_that_only_look_like_domains_stay_text():
    assert message_html("run notes.py then open v1.2.md") == "run notes.py then open v1.2.md"


def test_code_spans_and_line_breaks_are_kept_and_their_content_escaped():
    assert message_html("use `a<b && c` here\nnext line") == (
        "use <code>a&lt;b &amp;&amp; c</code> here<br>next line"
    )
    assert message_html("a\r\nb") == "a<br>b"


def test_markdown_beyond_code_and_links_stays_as_typed():
    assert message_html("**bold** _it_ # title [x](https://e.com)") == (
        f'**bold** _it_ # title [x](<a href="https://e.com" rel="{REL}" target="_blank">'
        "https://e.com</a>)"
    )


def test_the_conversation_and_the_thread_show_links(client, user, other_user):
    message = MessageFactory(
        sender=other_user, receiver=user, content="<b>hi</b> https://example.com `x`"
    )
    client.force_login(user)
    for path in (f"/people/{other_user.pk}/", f"/messages/{message.pk}/"):
        html = client.get(path).content.decode()
        assert f'<a href="https://example.com" rel="{REL}" target="_blank">' in html, path
        assert "&lt;b&gt;hi&lt;/b&gt;" in html, path
        assert "<code>x</code>" in html, path
