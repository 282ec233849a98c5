"""Full-text search of messages on PostgreSQL (messaging/search.py): a generated, stored
tsvector column and a GIN index on (receiver, sender, document), with the btree_gin
extension (trusted: the database's owner may create it). Adding a stored
generated column rewrites the table under an exclusive lock (a few seconds a million
messages)."""

from django.conf import settings
from django.db import migrations


def add(apps, schema_editor):
    from messaging.search import add_document_column

    with schema_editor.connection.cursor() as cursor:
        add_document_column(cursor, settings.SEARCH_CONFIG)


def drop(apps, schema_editor):
    from messaging.search import drop_document_column

    with schema_editor.connection.cursor() as cursor:
        drop_document_column(cursor)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_leaf_rows_cascade_in_the_database")]

    operations = [migrations.RunPython(add, drop)]
