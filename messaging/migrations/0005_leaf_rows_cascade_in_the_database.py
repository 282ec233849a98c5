"""A message's notifications, histories and pending edits are deleted with it
by the database too (ON DELETE CASCADE), not only by Django's collector.

Django deletes a message's dependents first, then the message, and checks foreign keys at
commit. A worker's notification (or version) inserted between those two statements used to
fail that commit with a foreign-key error: the delete, a request or a purge, was lost to a
race. The database now removes such a row with its message. A later migration that alters these foreign keys must
keep ON DELETE CASCADE.
"""

from django.db import migrations

LEAVES = ("Notification", "MessageHistory", "PendingEdit")


def _redefine(apps, schema_editor, old: str, new: str) -> None:
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    messages = apps.get_model("messaging", "Message")._meta.db_table
    with connection.cursor() as cursor:
        for name in LEAVES:
            table = apps.get_model("messaging", name)._meta.db_table
            cursor.execute(
                """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid = %s::regclass AND confrelid = %s::regclass AND contype = 'f'""",
                [table, messages],
            )
            for constraint, definition in cursor.fetchall():
                cursor.execute(
                    f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(constraint)}, "
                    f"ADD CONSTRAINT {qn(constraint)} {definition.replace(old, new)}"
                )


def cascade(apps, schema_editor):
    _redefine(apps, schema_editor, " DEFERRABLE", " ON DELETE CASCADE DEFERRABLE")


def no_cascade(apps, schema_editor):
    _redefine(apps, schema_editor, " ON DELETE CASCADE", "")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0004_unread_notifications_index")]

    operations = [migrations.RunPython(cascade, no_cascade)]
