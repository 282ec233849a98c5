"""Search documents without accents, with the grams of Japanese, Chinese, Korean and Thai
runs and of emoji (messaging.search: search_config, messaging_grams): the column is made
again. The table is rewritten under an exclusive lock (a few seconds a million messages)."""

from django.conf import settings
from django.db import migrations


def fold(apps, schema_editor):
    from messaging import search

    with schema_editor.connection.cursor() as cursor:
        if not search.document_is_current(cursor):
            search.drop_document_column(cursor)
            search.add_document_column(cursor, settings.SEARCH_CONFIG)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_message_deleted_for_everyone")]

    operations = [migrations.RunPython(fold, migrations.RunPython.noop)]
