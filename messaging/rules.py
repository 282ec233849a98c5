"""What a message must be, in one place: the model's pre-save guard, the API's serializer and
the compose form all ask these functions (lookups such as "who is this username" stay with
the form and the serializer; who may edit is services.message_check_editable)."""

import os

from django.conf import settings
from django.utils.translation import gettext as _


def content_error(content: str | None, *, with_file: bool = False) -> str | None:
    """Why this content cannot be sent, or None (empty only with a file attached)."""
    content = content or ""
    if not content.strip() and not with_file:
        return _("Content must not be empty.")
    if len(content) > settings.MESSAGE_MAX_LENGTH:
        return _("Content must be at most %(limit)d characters (it has %(length)d).") % {
            "limit": settings.MESSAGE_MAX_LENGTH,
            "length": len(content),
        }
    return None


def new_message_errors(
    *, sender, receiver, content: str | None, parent=None, with_file: bool = False
) -> dict[str, str]:
    """What is wrong with a message about to be sent, by field; empty when it may be sent.

    `receiver` is a user, or only its id (whoever inserts then checks that it is active);
    `parent` needs only its sender_id, receiver_id and deleted_at loaded.
    """
    errors = {}
    if reason := content_error(content, with_file=with_file):
        errors["content"] = reason
    if sender is None or receiver is None:
        errors["receiver"] = _("A message needs a sender and a receiver.")
        return errors
    receiver_id = getattr(receiver, "pk", receiver)
    if sender.pk == receiver_id:
        errors["receiver"] = _("You cannot send a message to yourself.")
    elif getattr(receiver, "is_active", True) is False:
        errors["receiver"] = _("This user is not active.")
    if not sender.is_active:
        errors["sender"] = _("Inactive users cannot send messages.")
    if parent is not None and {parent.sender_id, parent.receiver_id} != {sender.pk, receiver_id}:
        errors["parent_message"] = _(
            "A reply must stay between the thread's two people: send it to the other person."
        )
    elif parent is not None and parent.deleted_at is not None:
        errors["parent_message"] = _("This message was deleted: it takes no more replies.")
    return errors


def attachment_error(attachment) -> str | None:
    """Why this uploaded file cannot be attached, or None: its size, and its type by its
    name (ATTACHMENT_TYPES; chat.js checks both before uploading, from the same settings)."""
    if attachment is None:
        return None
    name = os.path.basename(attachment.name or "")
    if name in ("", ".", ".."):
        return _("An attachment needs a file name.")
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    if extension not in settings.ATTACHMENT_TYPES:
        return _(
            "Files of this type cannot be attached (%(extension)s); these can: %(allowed)s."
        ) % {
            "extension": extension or _("no extension"),
            "allowed": ", ".join(settings.ATTACHMENT_TYPES),
        }
    if attachment.size > settings.ATTACHMENT_MAX_BYTES:
        return _("An attachment may be at most %(megabytes)d MB.") % {
            "megabytes": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        }
    return None
