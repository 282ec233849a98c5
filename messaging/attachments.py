"""A message's file as content: what its card says (name, size, type) and an image's
preview, made by the worker once the send has committed (the outbox topic
`messaging.make_thumbnail`, task messaging.tasks.make_thumbnail).

The preview is made with Pillow, the library Django's ImageField itself relies on:
- a decompression bomb (more than THUMBNAIL_MAX_PIXELS once unpacked) is refused before
  its pixels are read, and so is a file that is not the image its name says;
- the picture is turned upright from its EXIF orientation, shrunk to THUMBNAIL_SIZE on its
  longer side and written again as a JPEG with no metadata at all (no GPS position, no
  camera, no EXIF), so nothing of the original's metadata leaves through it;
- it is stored in the message's `thumbnail` field, whose file the file lifecycle deletes
  with the row, with the attachment, or when the message is deleted for everyone.

The original is never shown inline: it is served as a download (`Content-Disposition:
attachment`, with `X-Content-Type-Options: nosniff` from the security middleware), so a
file named .png that holds HTML or SVG script never runs in the platform's origin.
"""

import io
import logging
import mimetypes
import os
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from files import lifecycle
from messaging import effects
from messaging.models import Message

logger = logging.getLogger(__name__)


def card(upload) -> dict:
    """The card's fields of an uploaded file: its name as uploaded (without any folder),
    its size and its type as its name says."""
    name = os.path.basename((upload.name or "").replace("\\", "/"))[:255]
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return {"attachment_name": name, "attachment_size": upload.size, "attachment_type": kind}


def previewable(name: str) -> bool:
    return os.path.splitext(name)[1].lower().lstrip(".") in settings.THUMBNAIL_TYPES


class NotAnImage(ValueError):
    """The file is not an image Pillow can read safely (the reason says which)."""


def thumbnail_bytes(source) -> bytes:
    """A JPEG preview of the image in the binary file `source`, without metadata; raises
    NotAnImage for a decompression bomb, a file that is no image, or a broken one."""
    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS and refuses at twice that: refuse at once.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, settings.THUMBNAIL_MAX_PIXELS
        try:
            with Image.open(source) as image:
                if image.format not in ("JPEG", "PNG", "GIF", "WEBP"):
                    raise NotAnImage(f"not a picture format we preview: {image.format}")
                image.draft("RGB", (settings.THUMBNAIL_SIZE * 2, settings.THUMBNAIL_SIZE * 2))
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((settings.THUMBNAIL_SIZE, settings.THUMBNAIL_SIZE))
                preview = upright.convert("RGB")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as bomb:
            raise NotAnImage(f"decompression bomb refused: {bomb}") from bomb
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise NotAnImage(f"not a readable image: {error}") from error
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    out = io.BytesIO()
    preview.save(out, "JPEG", quality=82, optimize=True)  # no exif= given: none written
    return out.getvalue()


def make_thumbnail(message_id: int) -> str | None:
    """Make and store the preview of the message's image, and tell both people's pages
    (the outbox). Returns the preview's name, or None when there is nothing to preview (no
    image, already made, the message gone or its file changed) or it is not an image."""
    message = (
        Message.objects.filter(pk=message_id, deleted_at__isnull=True)
        .only("id", "attachment", "attachment_name", "thumbnail")
        .first()
    )
    if message is None or not message.attachment or message.thumbnail:
        return None
    if not previewable(message.attachment_name or message.attachment.name):
        return None
    try:
        with message.attachment.open("rb") as source:
            made = thumbnail_bytes(source)
    except NotAnImage as refused:
        logger.warning("no preview for message %s: %s", message_id, refused)
        return None
    field = Message._meta.get_field("thumbnail")
    base = os.path.splitext(os.path.basename(message.attachment.name))[0]
    name = field.storage.save(field.generate_filename(message, f"{base}.jpg"), ContentFile(made))
    with transaction.atomic():
        stored = Message.objects.filter(
            pk=message_id, attachment=message.attachment.name, thumbnail="", deleted_at=None
        ).update(thumbnail=name)
        if stored:
            effects.attachment_ready(message_id)
    if not stored:  # deleted or changed meanwhile: the preview is nobody's
        lifecycle.delete(field.storage, name)
        return None
    return name
