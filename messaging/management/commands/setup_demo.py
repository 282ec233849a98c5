import io
import secrets

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from PIL import Image, ImageDraw

from messaging import services
from messaging.models import Message

DEMO_USERS = [("admin", True), ("alice", False), ("bob", False)]


class Command(BaseCommand):
    help = (
        "Create a demo admin and two demo users if missing, printing their passwords once, "
        "and a first conversation between the two (a reply, an edit, a link, a picture)."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        for username, is_admin in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(12)
            User.objects.create_user(
                username=username,
                password=password,
                email=f"{username}@example.com",
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            role = "admin" if is_admin else "user"
            self.stdout.write(
                self.style.SUCCESS(f"Created {role} {username!r} with password {password!r}")
            )
        alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
        if not Message.objects.between(alice, bob).exists():
            first_conversation(alice, bob)
            self.stdout.write(self.style.SUCCESS("Wrote a first conversation of alice and bob"))


def first_conversation(alice, bob) -> None:
    """A newcomer sees every kind of message at once: a question, an answer with a link that
    was edited (its earlier version kept), a reply with a picture (its preview made by the
    worker), a code span, and one left unread."""
    question = services.message_send(
        sender=bob, receiver=alice, content="Hi Alice! Are we still on for lunch on Friday?"
    )
    answer = services.message_send(
        sender=alice,
        receiver=bob,
        content="Yes! 12:30 at the café by the station? Menu: https://example.com/menu",
        parent_message=question,
    )
    services.message_edit(
        message=answer,
        editor=alice,
        content="Yes! 12:45 at the café by the station? Menu: https://example.com/menu",
    )
    services.message_send(
        sender=bob,
        receiver=alice,
        content="Perfect. This is the terrace, we can sit outside.",
        parent_message=answer,
        attachment=SimpleUploadedFile("terrace.jpg", _terrace(), content_type="image/jpeg"),
    )
    services.messages_mark_read(user=alice)
    services.message_send(
        sender=alice, receiver=bob, content="See you there. The door code is `4521`."
    )


def _terrace() -> bytes:
    """A small drawn picture (no file in the repository): sky, sun, hills, a parasol."""
    image = Image.new("RGB", (960, 640))
    draw = ImageDraw.Draw(image)
    for y in range(640):
        shade = int(150 + 90 * y / 640)
        draw.line([(0, y), (960, y)], fill=(90, shade, 235))
    draw.ellipse([720, 70, 840, 190], fill=(255, 214, 90))
    draw.polygon([(0, 460), (260, 330), (560, 450), (820, 350), (960, 420), (960, 640), (0, 640)],
                 fill=(70, 150, 90))  # fmt: skip
    draw.rectangle([0, 540, 960, 640], fill=(190, 150, 110))
    draw.line([(420, 330), (420, 560)], fill=(80, 60, 50), width=8)
    draw.pieslice([300, 260, 540, 400], 180, 360, fill=(220, 60, 60))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
