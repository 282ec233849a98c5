from django import template

from messaging import content

register = template.Library()


@register.filter
def message_html(text: str):
    """A message's content with its links and code spans (messaging.content)."""
    return content.message_html(text or "")
