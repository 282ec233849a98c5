"""A message's text as HTML: links clickable, `code` spans and line breaks kept, everything
else escaped. The one rendering of a message's content, for the conversation's rows
(messaging.chat_rows), the thread page and search results (the `message_html` filter).

markdown-it-py (CommonMark's parser, the one Jupyter and MyST use) with every rule off but
three: `backticks` (code spans), `newline` (line breaks) and `linkify` (linkify-it-py, the
URL finder of markdown-it). Raw HTML is off, so every tag typed comes out escaped, and
markdown-it's own link check refuses `javascript:`, `vbscript:`, `file:` and `data:` links.
Written-out links of Markdown (`[text](url)`), emphasis and headings stay plain text: a chat
message is not a document.

Links are found when written with a scheme (`https://`, `mailto:`) or starting `www.`;
other bare names are not ("notes.py", "v1.2.md": linkify-it counts every two-letter country
code as a domain). Each link opens in its own tab with `rel="noopener noreferrer nofollow
ugc"`: the target learns nothing of the page, and search engines trust none of them.
"""

import re
from html import escape

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

REL = "noopener noreferrer nofollow ugc"

# A text none of whose characters can start a link or a code span renders as escaped text
# with <br> for its line breaks: markdown-it took 44 µs a short message, this 1 µs, and most
# messages have neither (bench/chat_parts.py renders 200 of them per request).
_MARKUP = re.compile(r"`|://|www\.|@|mailto:", re.IGNORECASE)


def _written_links_only(state: StateCore) -> None:
    """Undo the links linkify-it found without a scheme, "www." or "@" (a core rule run
    after linkify): their link tokens become their text again."""
    for block in state.tokens:
        children = block.children or []
        kept = []
        skip = False
        for i, token in enumerate(children):
            if token.type == "link_open" and token.markup == "linkify":
                text = children[i + 1].content if i + 1 < len(children) else ""
                skip = not ("://" in text or text.lower().startswith("www.") or "@" in text)
                if skip:
                    continue
            elif token.type == "link_close" and token.markup == "linkify" and skip:
                skip = False
                continue
            kept.append(token)
        block.children = kept


def _link_open(self, tokens, idx, options, env) -> str:
    tokens[idx].attrSet("rel", REL)
    tokens[idx].attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


_md = MarkdownIt("zero", {"breaks": True, "linkify": True}).enable(
    ["linkify", "backticks", "newline"]
)
_md.core.ruler.after("linkify", "written_links_only", _written_links_only)
_md.add_render_rule("link_open", _link_open)


def message_html(text: str) -> SafeString:
    """The content of a message as safe HTML, for inside a block element (a <p>)."""
    if not _MARKUP.search(text):
        return mark_safe(escape(text.replace("\r\n", "\n")).replace("\n", "<br>"))
    return mark_safe(_md.renderInline(text).rstrip("\n").replace("<br>\n", "<br>"))
