"""Rebuild the stored search documents with the SEARCH_CONFIG setting (after changing it).

    manage.py search_reindex           # only if the documents were made with another one
    manage.py search_reindex --force

The column is dropped and generated again: the table is rewritten under an
exclusive lock, so run it at a quiet hour (a few seconds a million messages here).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from messaging import search


class Command(BaseCommand):
    help = "Rebuild the messages' search documents with SEARCH_CONFIG."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="rebuild even if up to date")

    def handle(self, *args, force: bool = False, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            if search.document_is_current(cursor) and not force:
                self.stdout.write(f"Search documents already use {search.search_config()!r}.")
                return
            search.drop_document_column(cursor)
            search.add_document_column(cursor, settings.SEARCH_CONFIG)
        self.stdout.write(f"Search documents rebuilt with {search.search_config()!r}.")
