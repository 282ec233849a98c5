from django.db import migrations


def pending_edits_to_outbox(apps, schema_editor):
    """Edits whose history task had not run yet become outbox rows of that task."""
    PendingEdit = apps.get_model("messaging", "PendingEdit")
    OutboxRow = apps.get_model("core", "OutboxRow")
    OutboxRow.objects.bulk_create(
        OutboxRow(
            topic="messaging.record_edit",
            payload={
                "message_id": edit.message_id,
                "old_content": edit.old_content,
                "edited_at": edit.edited_at.isoformat(),
                "editor_id": edit.edited_by_id,
            },
        )
        for edit in PendingEdit.objects.order_by("id").iterator()
    )


class Migration(migrations.Migration):
    """The outbox (core 0003) holds every effect of an edit now, its old content included."""

    dependencies = [
        ("core", "0003_outbox"),
        ("messaging", "0008_account_deletions_in_accounts"),
    ]

    operations = [
        migrations.RunPython(pending_edits_to_outbox, migrations.RunPython.noop),
        migrations.DeleteModel(name="PendingEdit"),
    ]
