"""Files as content (messaging/attachments.py): the card's fields, previews made by the
worker after commit (bombs and impostors refused, metadata gone), downloads that never
render, and the files following their message."""

import io

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from messaging import attachments, services
from messaging.models import Message
from tests import effects

pytestmark = pytest.mark.django_db

GPS = 0x8825  # the EXIF tag of the GPS block


def picture(name: str = "photo.jpg", size=(1600, 1200), *, gps: bool = False) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "CameraMaker"
        exif.get_ifd(GPS).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    image.save(out, "JPEG" if name.endswith(".jpg") else "PNG", exif=exif.tobytes())
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def test_an_image_gets_a_preview_after_commit_without_its_gps_position(user, other_user):
    message = services.message_send(
        sender=user, receiver=other_user, content="", attachment=picture(gps=True)
    )
    assert (message.attachment_name, message.attachment_type) == ("photo.jpg", "image/jpeg")
    assert message.attachment_size > 0
    with default_storage.open(message.attachment.name) as original:
        assert Image.open(original).getexif().get_ifd(GPS)  # the upload had one
    assert not Message.objects.get(pk=message.pk).thumbnail  # not before the worker

    effects.deliver()  # the outbox: the preview task, then its event

    stored = Message.objects.get(pk=message.pk)
    with default_storage.open(stored.thumbnail.name) as preview:
        data = preview.read()
    made = Image.open(io.BytesIO(data))
    assert made.format == "JPEG"
    assert max(made.size) == settings.THUMBNAIL_SIZE
    assert not made.getexif()  # no GPS, no camera: no EXIF at all
    assert b"CameraMaker" not in data
    for person in (user, other_user):
        ready = [d for name, d in effects.published_events(person.pk) if name == "attachment.ready"]
        assert ready == [
            {
                "id": message.pk,
                "sender": user.pk,
                "receiver": other_user.pk,
                "thumbnail": f"/api/v1/messages/{message.pk}/thumbnail/",
            }
        ]


def test_a_decompression_bomb_is_refused_unopened(user, other_user):
    bomb = Image.new("1", (10_000, 10_000))  # 100 megapixels, a few kB as a PNG
    out = io.BytesIO()
    bomb.save(out, "PNG")
    assert len(out.getvalue()) < 100_000
    message = services.message_send(
        sender=user,
        receiver=other_user,
        content="small file",
        attachment=SimpleUploadedFile("tiny.png", out.getvalue()),
    )
    effects.deliver()
    assert not Message.objects.get(pk=message.pk).thumbnail
    assert attachments.make_thumbnail(message.pk) is None  # run again: refused again
    with pytest.raises(attachments.NotAnImage, match="decompression bomb"):
        attachments.thumbnail_bytes(io.BytesIO(out.getvalue()))


def test_a_file_that_only_says_it_is_an_image_gets_no_preview(user, other_user):
    impostor = SimpleUploadedFile("cat.png", b"<html><script>alert(1)</script></html>")
    message = services.message_send(
        sender=user, receiver=other_user, content="a cat", attachment=impostor
    )
    effects.deliver()
    assert not Message.objects.get(pk=message.pk).thumbnail
    with pytest.raises(attachments.NotAnImage, match="not a readable image"):
        attachments.thumbnail_bytes(impostor.open())


def test_the_file_is_only_ever_a_download_and_the_preview_only_theirs(
    user, other_user, api, client
):
    impostor = SimpleUploadedFile("cat.png", b"<html><script>alert(1)</script></html>")
    message = services.message_send(
        sender=other_user, receiver=user, content="", attachment=impostor
    )
    response = api.get(f"/api/v1/messages/{message.pk}/attachment/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="cat.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert api.get(f"/api/v1/messages/{message.pk}/thumbnail/").status_code == 404  # none

    shown = api.get(f"/api/v1/messages/{message.pk}/").json()
    assert (shown["attachment_name"], shown["attachment_type"]) == ("cat.png", "image/png")
    assert shown["attachment_size"] == len(b"<html><script>alert(1)</script></html>")
    assert shown["thumbnail"] is None


def test_the_preview_is_served_to_the_two_people_only(user, other_user, api):
    from devtools.factories import UserFactory
    from tests.conftest import client_for

    message = services.message_send(
        sender=other_user, receiver=user, content="look", attachment=picture()
    )
    effects.deliver()
    url = f"/api/v1/messages/{message.pk}/thumbnail/"
    answer = api.get(url)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "image/jpeg"
    assert api.get(f"/api/v1/messages/{message.pk}/").json()["thumbnail"].endswith(url)
    assert client_for(UserFactory()).get(url).status_code == 404


def test_a_message_deleted_for_everyone_takes_its_file_and_preview_after_commit(user, other_user):
    message = services.message_send(
        sender=user, receiver=other_user, content="", attachment=picture()
    )
    effects.deliver()
    stored = Message.objects.get(pk=message.pk)
    names = [stored.attachment.name, stored.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)

    services.message_delete(message=stored, deleter=user)
    assert all(default_storage.exists(name) for name in names)  # until the commit's task
    effects.deliver()
    assert not any(default_storage.exists(name) for name in names)


def test_the_composer_sends_a_file_alone_and_refuses_a_big_or_odd_one(
    client, user, other_user, settings
):
    client.force_login(user)
    url = f"/people/{other_user.pk}/send/"
    fetch = {"HTTP_X_REQUESTED_WITH": "fetch"}
    sent = client.post(url, {"content": "", "attachment": picture("shot.png")}, **fetch)
    assert sent.status_code == 201
    row = sent.content.decode()
    assert 'class="file-name"' in row
    assert ">shot.png</a>" in row
    assert "PNG · " in row
    assert "Preview being made…" in row

    settings.ATTACHMENT_MAX_BYTES = 100
    big = client.post(url, {"content": "x", "attachment": picture("big.png")}, **fetch)
    assert big.status_code == 400
    assert "at most" in big.json()["detail"]
    odd = client.post(
        url, {"content": "x", "attachment": SimpleUploadedFile("run.exe", b"MZ")}, **fetch
    )
    assert odd.status_code == 400
    assert "cannot be attached (exe)" in odd.json()["detail"]
    empty = client.post(url, {"content": "  "}, **fetch)
    assert empty.status_code == 400
    assert Message.objects.filter(sender=user).count() == 1


def test_the_card_shows_the_preview_once_it_is_made(client, user, other_user):
    message = services.message_send(
        sender=other_user, receiver=user, content="a view", attachment=picture("view.jpg")
    )
    client.force_login(user)
    page = f"/people/{other_user.pk}/"
    assert "Preview being made…" in client.get(page).content.decode()
    effects.deliver()
    html = client.get(page).content.decode()
    assert f'<img src="/api/v1/messages/{message.pk}/thumbnail/"' in html
    assert "JPG · " in html


def test_the_demo_users_start_with_a_conversation_showing_every_feature(capsys):
    from django.core.management import call_command

    call_command("setup_demo")
    call_command("setup_demo")  # again: nothing more
    effects.deliver()
    messages = Message.objects.order_by("id")
    assert messages.count() == 4
    assert messages.filter(parent_message__isnull=False).count() == 2
    assert messages.filter(edited=True, history__isnull=False).exists()
    picture = messages.get(attachment_name="terrace.jpg")
    assert picture.thumbnail
    assert messages.filter(content__contains="https://example.com/menu").exists()
    assert messages.filter(receiver__username="bob", read=False).exists()
    assert capsys.readouterr().out.count("Wrote a first conversation") == 1


def test_a_file_alone_reads_as_its_name_in_the_inbox(client, user, other_user):
    services.message_send(sender=other_user, receiver=user, content="", attachment=picture())
    client.force_login(user)
    for path in ("/", "/received/"):
        assert "File: photo.jpg" in client.get(path).content.decode(), path
