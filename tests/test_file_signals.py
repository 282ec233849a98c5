"""Files follow their rows: deleted after commit, kept while referenced, swept when orphaned."""

import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from devtools.factories import MessageFactory
from maintenance import files
from maintenance.models import ArchivedRecord
from messaging.models import Message

pytestmark = pytest.mark.django_db


def with_file(name: str = "doc.txt", **kwargs) -> Message:
    message = MessageFactory(**kwargs)
    message.attachment.save(name, ContentFile(b"content"), save=True)
    return message


def deletions(published) -> list[list[str]]:
    return [args[0] for name, args, _ in published if name == "maintenance.tasks.delete_files"]


def test_deleting_a_row_hands_its_file_to_a_task_after_commit(
    django_capture_on_commit_callbacks, published
):
    message = with_file()
    name = message.attachment.name
    with django_capture_on_commit_callbacks(execute=True):
        message.delete()
    assert deletions(published) == [[name]]
    files.delete_unreferenced([name])  # what the task does (a worker may have done it already)
    assert not default_storage.exists(name)


def test_replacing_a_file_hands_the_old_one_over(django_capture_on_commit_callbacks, published):
    message = with_file("old.txt")
    old = message.attachment.name
    with django_capture_on_commit_callbacks(execute=True):
        message.attachment.save("new.txt", ContentFile(b"new"), save=True)
    assert deletions(published) == [[old]]


def test_clearing_a_file_hands_it_over(django_capture_on_commit_callbacks, published):
    message = with_file()
    old = message.attachment.name
    with django_capture_on_commit_callbacks(execute=True):
        message.attachment = ""
        message.save()
    assert deletions(published) == [[old]]


def test_rollback_deletes_nothing(django_capture_on_commit_callbacks, published):
    message = with_file()

    def delete_then_fail():
        with transaction.atomic():
            message.delete()
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        delete_then_fail()
    assert deletions(published) == []
    assert default_storage.exists(message.attachment.name)


def test_rolled_back_savepoint_keeps_its_file_out_of_the_batch(
    django_capture_on_commit_callbacks, published
):
    kept, dropped = with_file("kept.txt"), with_file("dropped.txt")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        dropped.delete()
        try:
            with transaction.atomic():
                kept.delete()
                raise RuntimeError
        except RuntimeError:
            pass
    assert deletions(published) == [[dropped.attachment.name]]


def test_a_file_another_row_references_is_kept():
    first = with_file()
    MessageFactory(attachment=first.attachment.name)
    name = first.attachment.name
    first.delete()
    assert files.delete_unreferenced([name]) == {"deleted": 0, "kept_referenced": 1, "errors": 0}
    assert default_storage.exists(name)


def test_a_bulk_deletion_makes_one_task_per_thousand_names(
    django_capture_on_commit_callbacks, published
):
    sender, receiver = MessageFactory().sender, MessageFactory().receiver
    Message.objects.bulk_create(
        [
            Message(sender=sender, receiver=receiver, content="x", attachment=f"bulk/{i}.txt")
            for i in range(2500)
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        Message.objects.filter(attachment__startswith="bulk/").delete()
    assert [len(batch) for batch in deletions(published)] == [1000, 1000, 500]


def age(path, hours: float):
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_sweep_deletes_old_orphans_only(media_root):
    referenced = with_file("kept.txt")
    age(referenced.attachment.path, 48)
    orphan = default_storage.save("attachments/orphan.txt", ContentFile(b"o"))
    age(default_storage.path(orphan), 48)
    young = default_storage.save("attachments/young.txt", ContentFile(b"y"))
    archived = default_storage.save("attachments/archived.txt", ContentFile(b"a"))
    age(default_storage.path(archived), 48)
    ArchivedRecord.objects.create(
        content_type_id=__import__("django.contrib.contenttypes.models", fromlist=["x"])
        .ContentType.objects.get_for_model(Message)
        .pk,
        object_pk="999",
        data={"model": "messaging.message", "pk": 999, "fields": {"attachment": archived}},
    )

    dry = files.sweep_orphaned_files(min_age_hours=24, dry_run=True)
    assert dry["orphans"] == 1
    assert default_storage.exists(orphan)

    counts = files.sweep_orphaned_files(min_age_hours=24)

    assert counts["deleted"] == 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(young)
    assert default_storage.exists(archived)
    assert default_storage.exists(referenced.attachment.name)
