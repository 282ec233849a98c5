"""Files follow their rows: deleted after commit, kept while referenced, swept when orphaned."""

import os
import time

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.test.utils import CaptureQueriesContext

from core import outbox
from devtools.factories import MessageFactory
from files import lifecycle as files
from files import signals
from maintenance import sweep
from maintenance.models import ArchivedRecord
from messaging import inbox_cache
from messaging.models import Message
from tests import effects
from tests.servers import relays_paused, wait_for

pytestmark = pytest.mark.django_db


def with_file(name: str = "doc.txt", **kwargs) -> Message:
    message = MessageFactory(**kwargs)
    message.attachment.save(name, ContentFile(b"content"), save=True)
    return message


def deletions() -> list[list[str]]:
    """The names of each deletion task the relay would publish for what is recorded now."""
    payloads = [payload for _, payload in effects.recorded("files.delete_files")]
    calls = outbox.topics()["files.delete_files"].task_calls(payloads)
    return [args[0] for args, _ in calls]


def test_deleting_a_row_records_its_file_for_the_deletion_task():
    message = with_file()
    name = message.attachment.name
    message.delete()
    assert deletions() == [[name]]
    assert default_storage.exists(name)  # until the task runs, after the commit
    effects.deliver()
    assert not default_storage.exists(name)


def test_replacing_a_file_hands_the_old_one_over():
    message = with_file("old.txt")
    old = message.attachment.name
    message.attachment.save("new.txt", ContentFile(b"new"), save=True)
    assert deletions() == [[old]]


def test_clearing_a_file_hands_it_over():
    message = with_file()
    old = message.attachment.name
    message.attachment = ""
    message.save()
    assert deletions() == [[old]]


def test_rollback_deletes_nothing():
    message = with_file()

    def delete_then_fail():
        with transaction.atomic():
            message.delete()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        delete_then_fail()
    assert deletions() == []
    assert default_storage.exists(message.attachment.name)


def test_rolled_back_savepoint_keeps_its_file_out_of_the_batch():
    kept, dropped = with_file("kept.txt"), with_file("dropped.txt")
    with transaction.atomic():
        dropped.delete()
        try:
            with transaction.atomic():
                kept.delete()
                raise RuntimeError
        except RuntimeError:
            pass
    assert deletions() == [[dropped.attachment.name]]


def test_a_file_another_row_references_is_kept():
    first = with_file()
    MessageFactory(attachment=first.attachment.name)
    name = first.attachment.name
    first.delete()
    assert files.delete_unreferenced([name]) == {"deleted": 0, "kept_referenced": 1, "errors": 0}
    assert default_storage.exists(name)


def test_a_bulk_deletion_makes_one_task_per_thousand_names():
    sender, receiver = MessageFactory().sender, MessageFactory().receiver
    Message.objects.bulk_create(
        [
            Message(sender=sender, receiver=receiver, content="x", attachment=f"bulk/{i}.txt")
            for i in range(2500)
        ]
    )
    Message.objects.filter(attachment__startswith="bulk/").delete()
    assert len(effects.recorded("files.delete_files")) == 1
    assert [len(batch) for batch in deletions()] == [1000, 1000, 500]


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

    dry = sweep.sweep_orphaned_files(min_age_hours=24, dry_run=True)
    assert dry["orphans"] == 1
    assert default_storage.exists(orphan)

    counts = sweep.sweep_orphaned_files(min_age_hours=24)

    assert counts["deleted"] == 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(young)
    assert default_storage.exists(archived)
    assert default_storage.exists(referenced.attachment.name)


# --- Every way a row is deleted or replaced (issue 15, items 12 and 13), through a worker -----


def wait_until_gone(name: str) -> None:
    wait_for(lambda: not default_storage.exists(name), timeout=30)


def committed_with_file(name: str) -> Message:
    message = MessageFactory()
    message.attachment.save(name, ContentFile(b"content"), save=True)
    return message


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["queryset", "instance"])
def test_rows_loaded_without_their_fields_are_deleted_with_their_files(celery_worker, how):
    message = committed_with_file("deferred.txt")
    name = message.attachment.name
    versions = {u: inbox_cache.version_of(u) for u in (message.sender_id, message.receiver_id)}
    if how == "queryset":
        Message.objects.only("id").filter(pk=message.pk).delete()
    else:
        Message.objects.only("id").get(pk=message.pk).delete()
    assert not Message.objects.filter(pk=message.pk).exists()
    wait_until_gone(name)
    assert all(inbox_cache.version_of(u) != v for u, v in versions.items())


def test_a_deferred_batch_is_read_in_one_query_whatever_its_size(user, other_user):
    def delete_only_ids(count: int) -> int:
        Message.objects.bulk_create(
            [
                Message(sender=user, receiver=other_user, content="x", attachment=f"b/{i}.txt")
                for i in range(count)
            ]
        )
        with CaptureQueriesContext(connection) as queries:
            Message.objects.only("id").filter(sender=user).delete()
        return len(queries)

    assert delete_only_ids(5) == delete_only_ids(50)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_saving_over_a_row_by_primary_key_deletes_the_file_it_replaced(celery_worker):
    message = committed_with_file("before.txt")
    old = message.attachment.name
    new = default_storage.save("attachments/after.txt", ContentFile(b"after"))
    Message(
        pk=message.pk,
        sender=message.sender,
        receiver=message.receiver,
        content=message.content,
        timestamp=message.timestamp,
        attachment=new,
    ).save()
    wait_until_gone(old)
    assert default_storage.exists(new)


# --- Storages, default files, opting out, signals (items 14 to 16) ---------------------------
# A model made for each test, with its table: the deletions run in this process
# (tests.effects.deliver), since the worker does not know the model.


@pytest.fixture
def file_models(media_root):
    private = FileSystemStorage(location=media_root / "private")
    meta = {"app_label": "maintenance"}
    made = {
        "Doc": {
            "own": models.FileField(storage=private, blank=True),
            "picture": models.FileField(default="defaults/picture.png", blank=True),
            "plain": models.FileField(blank=True),
        },
        "KeptDoc": {"plain": models.FileField(blank=True)},
    }
    classes = {}
    for name, fields in made.items():
        attrs = {"__module__": "maintenance.models", "Meta": type("Meta", (), meta), **fields}
        classes[name] = type(name, (models.Model,), attrs)
    files.keep_files(classes["KeptDoc"])
    with connection.schema_editor() as editor:
        for model in classes.values():
            editor.create_model(model)
    signals.connect_file_receivers()
    try:
        with relays_paused():  # the worker does not know these models
            yield classes["Doc"], classes["KeptDoc"], private
    finally:
        for model in classes.values():
            for signal in (pre_save, post_save, pre_delete, post_delete):
                for uid in [r[0][0] for r in signal.receivers if r[0][1] == id(model)]:
                    signal.disconnect(sender=model, dispatch_uid=uid)
        with connection.schema_editor() as editor:
            for model in classes.values():
                editor.delete_model(model)
        for name in made:
            del apps.all_models["maintenance"][name.lower()]
        apps.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_each_field_deletes_through_its_own_storage(file_models):
    doc_model, _, private = file_models
    same_name_in_default = default_storage.save("report.txt", ContentFile(b"default"))
    own = private.save("report.txt", ContentFile(b"private"))
    assert own == same_name_in_default == "report.txt"
    doc = doc_model.objects.create(own=own)
    doc.delete()
    effects.deliver()
    assert not private.exists(own)
    assert default_storage.exists(same_name_in_default)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_another_storage_inside_media_root_alone(file_models, media_root):
    doc_model, _, private = file_models
    live = private.save("live.txt", ContentFile(b"live"))
    doc_model.objects.create(own=live)
    age(private.path(live), 48)
    orphan = default_storage.save("swept.txt", ContentFile(b"o"))
    age(default_storage.path(orphan), 48)
    sweep.sweep_orphaned_files(min_age_hours=24)
    assert private.exists(live)
    assert not default_storage.exists(orphan)


@pytest.mark.django_db(transaction=True)
def test_a_default_file_is_never_deleted(file_models):
    doc_model, _, _ = file_models
    default = default_storage.save("defaults/picture.png", ContentFile(b"png"))
    assert default == "defaults/picture.png"
    first, second = doc_model.objects.create(), doc_model.objects.create()
    first.picture = default_storage.save("pictures/mine.png", ContentFile(b"mine"))
    first.save()  # the default replaced
    second.delete()  # a row with the default deleted
    first.delete()
    effects.deliver()
    age(default_storage.path(default), 48)
    sweep.sweep_orphaned_files(min_age_hours=24)  # no row uses the default now
    assert default_storage.exists(default)
    assert not default_storage.exists("pictures/mine.png")


@pytest.mark.django_db(transaction=True)
def test_opted_out_files_stay_and_deletions_are_announced(file_models):
    doc_model, kept_model, _ = file_models
    kept = default_storage.save("kept/contract.pdf", ContentFile(b"pdf"))
    kept_model.objects.create(plain=kept).delete()
    effects.deliver()
    assert default_storage.exists(kept)

    announced = []

    def record(signal_name):
        def receiver(sender, storage, name, **kwargs):
            announced.append((signal_name, name, storage.exists(name)))

        return receiver

    before, after = record("deleting"), record("deleted")
    files.file_deleting.connect(before)
    files.file_deleted.connect(after)
    try:
        gone = default_storage.save("plain/gone.txt", ContentFile(b"x"))
        doc_model.objects.create(plain=gone).delete()
        effects.deliver()
    finally:
        files.file_deleting.disconnect(before)
        files.file_deleted.disconnect(after)
    assert announced == [("deleting", gone, True), ("deleted", gone, False)]
