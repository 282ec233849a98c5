from django import template

from messaging import chat_rows, content

register = template.Library()


@register.filter
def message_html(text: str):
    """A message's content with its links and code spans (messaging.content)."""
    return content.message_html(text or "")


@register.filter
def file_card(message):
    """A message's file card, as the conversation shows it (messaging.chat_rows)."""
    return chat_rows.single_file_card(message)
