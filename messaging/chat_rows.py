"""A conversation's rows as HTML: the one markup of a message in a conversation, for its
page and for the parts and rows its script fetches (chat.js).

Written in Python rather than as a template: Django's template engine took 0.55 ms a row,
113 ms for a part of 200, over the 50 ms the whole request may take (bench/chat_parts.py);
this takes about 0.03 ms a row. Every text goes through html.escape (the standard
library's; django.utils.html.escape is the same escaping behind a lazy-string wrapper that
cost half of the time), a message's content through messaging.content; the words are
translated and escaped once a call.
"""

from collections.abc import Iterable
from html import escape

from django.template.defaultfilters import filesizeformat, truncatechars
from django.urls import reverse
from django.utils import dates
from django.utils.formats import date_format, get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from messaging.attachments import previewable
from messaging.content import message_html
from messaging.selectors import ChatMessage

MARK = 2_147_483_647  # an id standing for each message's in the URLs, reversed once a call


def _url(name: str) -> str:
    return reverse(name, args=[MARK]).replace(str(MARK), "{}")


# The letters of the languages' SHORT_DATETIME_FORMAT (config/formats/), written here once a
# call: date_format took 85 µs a time, 17 ms for a part of 200.
LETTERS = {
    "j": lambda at, months: str(at.day),
    "d": lambda at, months: f"{at.day:02d}",
    "M": lambda at, months: months["M"][at.month - 1],
    "N": lambda at, months: months["N"][at.month - 1],
    "Y": lambda at, months: str(at.year),
    "H": lambda at, months: f"{at.hour:02d}",
    "i": lambda at, months: f"{at.minute:02d}",
}


def clock():
    """A function writing a moment as the current language's SHORT_DATETIME_FORMAT and the
    zone's name ("Mar 5, 14:03 UTC", "5 mars, 14:03 UTC"): the same text as Django's
    date_format for the letters in LETTERS, and date_format itself for any other format."""
    pattern = get_format("SHORT_DATETIME_FORMAT")
    if any(c.isalpha() and c not in LETTERS for c in pattern) or "\\" in pattern:
        return lambda at: f"{date_format(at, 'SHORT_DATETIME_FORMAT')} {at.strftime('%Z')}"
    months = {
        "M": [str(dates.MONTHS_3[n]).title() for n in range(1, 13)],
        "N": [str(dates.MONTHS_AP[n]) for n in range(1, 13)],
    }
    parts = [LETTERS.get(c, c) for c in pattern]

    def write(at) -> str:
        text = "".join(p if isinstance(p, str) else p(at, months) for p in parts)
        return f"{text} {at.strftime('%Z')}"

    return write


def moment(at, write) -> str:
    """A <time> in the server's zone and the page's language, which times.js shows in the
    reader's zone."""
    at = localtime(at)
    return f'<time datetime="{at.isoformat()}">{escape(write(at))}</time>'


def rows_html(
    rows: Iterable[ChatMessage], *, me, other, first_unread: int | None = None
) -> SafeString:
    """The rows of these messages between `me` and `other`, readied by views._show and
    views._group; the "New messages" divider above `first_unread`."""
    words = {
        key: escape(text)
        for key, text in {
            "new": _("New messages"),
            "reply": _("Reply"),
            "edit": _("Edit"),
            "thread": _("Thread"),
            "in_reply_to": _("In reply to"),
            "a_message": _("a message"),
            "edited": pgettext("a message changed by its sender", "edited"),
            "saving": _("Earlier version being saved…"),
            "delete": _("Delete"),
            "previewing": _("Preview being made…"),
            "deleted": _("Message deleted"),
        }.items()
    }
    names_of_urls = ("thread", "edit", "delete", "message-attachment", "message-thumbnail")
    urls = {name: _url(name) for name in names_of_urls}
    names = {me.pk: escape(me.username), other.pk: escape(other.username)}
    write = clock()
    return mark_safe("".join(_row(m, first_unread, words, urls, names, write) for m in rows))


def file_card(m, urls: dict, words: dict) -> str:
    """A message's file: its preview once made (an image), its name as a download link, its
    type and size."""
    download = urls["message-attachment"].format(m.pk)
    name = escape(m.attachment_name or str(m.attachment).rsplit("/", 1)[-1])
    extension = name.rsplit(".", 1)[-1].upper() if "." in name else ""
    size = escape(str(filesizeformat(m.attachment_size))) if m.attachment_size else ""
    meta = " · ".join(part for part in (extension, size) if part)
    if m.thumbnail:
        preview = (
            f'<a class="preview" href="{download}" tabindex="-1" aria-hidden="true">'
            f'<img src="{urls["message-thumbnail"].format(m.pk)}" alt="" loading="lazy"></a>'
        )
    elif m.attachment_type.startswith("image/") and previewable(m.attachment_name):
        preview = f'<span class="preview pending" data-pending-preview>{words["previewing"]}</span>'
    else:
        preview = ""
    return (
        f'<div class="file">{preview}<a class="file-name" href="{download}" download>'
        f'{name}</a> <span class="file-meta">{meta}</span></div>'
    )


def single_file_card(message) -> SafeString:
    """The file card of one message (the thread page's)."""
    urls = {name: _url(name) for name in ("message-attachment", "message-thumbnail")}
    words = {"previewing": escape(_("Preview being made…"))}
    return mark_safe(file_card(message, urls, words))


def _row(m: ChatMessage, first_unread, words, urls, names, write) -> str:
    """One message's row; ids and times are the database's, everything else is escaped."""
    out = []
    if m.pk == first_unread:
        out.append(f'<li class="divider" id="unread-divider"><span>{words["new"]}</span></li>')
    classes = "msg" + (" cont" if m.grouped else "") + (" mine" if m.mine else "")
    classes += " gone" if m.deleted_at else ""
    unread = " data-unread" if not m.mine and not m.read else ""
    out.append(
        f'<li class="{classes}" id="m{m.pk}" data-message-id="{m.pk}"'
        f' data-sender="{m.sender_id}" data-at="{m.timestamp.isoformat()}"{unread}>'
        f'<p class="meta"><strong class="who">{names.get(m.sender_id, "")}</strong>'
        f" {moment(m.timestamp, write)}</p>"
    )
    if parent := m.parent_message_id:
        quoted = getattr(m, "quoted", None)
        if quoted is None:
            quote = words["a_message"]
        else:
            said = (
                f'<em class="deleted">{words["deleted"]}</em>'
                if quoted.deleted_at
                else escape(truncatechars(quoted.content, 140))
            )
            quote = f'<span class="who">{escape(quoted.sender.username)}</span> {said}'

        out.append(
            f'<a class="quote" href="{urls["thread"].format(parent)}" data-parent="{parent}">'
            f'<span class="visually-hidden">{words["in_reply_to"]} </span>{quote}</a>'
        )
    if m.deleted_at:
        out.append(f'<p class="content deleted"><em>{words["deleted"]}</em></p>')
        if m.parent_message_id:
            out.append(f'<div class="actions"><a href="{urls["thread"].format(m.pk)}">')
            out.append(f"{words['thread']}</a></div>")
        out.append("</li>")
        return "".join(out)
    out.append(f'<p class="content">{message_html(m.content)}</p>')
    if m.attachment:
        out.append(file_card(m, urls, words))
    if m.edited:
        versions = "".join(
            f"<li>{moment(v.edited_at, write)}:"
            f' <span class="old">{escape(v.old_content)}</span></li>'
            for v in m.versions
        )
        versions = versions or f"<li>{words['saving']}</li>"
        out.append(
            f'<details class="history"><summary>{words["edited"]}</summary>'
            f"<ol>{versions}</ol></details>"
        )
    thread = urls["thread"].format(m.pk)
    out.append(
        f'<div class="actions"><a class="reply-to" href="{thread}" data-reply="{m.pk}">'
        f"{words['reply']}</a>"
    )
    if m.mine:
        out.append(f' <a href="{urls["edit"].format(m.pk)}">{words["edit"]}</a>')
        out.append(
            f' <a class="delete" href="{urls["delete"].format(m.pk)}"'
            f' data-delete="{m.pk}">{words["delete"]}</a>'
        )
    if m.parent_message_id:
        out.append(f' <a href="{thread}">{words["thread"]}</a>')
    out.append("</div></li>")
    return "".join(out)
