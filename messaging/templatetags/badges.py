from django import template
from django.utils.translation import ngettext

register = template.Library()

# What a badge says to a screen reader; "%(count)s" first, then the noun.
LABELS = {
    "messages": lambda n: ngettext("%(count)s unread message", "%(count)s unread messages", n),
    "notifications": lambda n: ngettext(
        "%(count)s unread notification", "%(count)s unread notifications", n
    ),
}


@register.inclusion_tag("_badge.html")
def badge(kind: str, count: int):
    """An unread count in the header. live.js rewrites it as counts change, with the label's
    singular and plural forms of the page's language (data-one, data-other; "{n}": the count)."""
    label = LABELS[kind]
    return {
        "id": f"badge-{kind}",
        "count": count,
        "label": label(count) % {"count": count},
        "one": label(1) % {"count": "{n}"},
        "other": label(2) % {"count": "{n}"},
    }
