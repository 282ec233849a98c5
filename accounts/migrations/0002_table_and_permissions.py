"""The account deletions' table takes the app's name (accounts_accountdeletion), and its
content type and permissions follow it."""

from django.db import migrations

from core.moved_models import move_content_types

MOVED = [("messaging", "accountdeletion", "accounts", "accountdeletion")]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("messaging", "0008_account_deletions_in_accounts"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelTable(name="accountdeletion", table=None),
        migrations.RunPython(
            lambda apps, schema_editor: move_content_types(apps, MOVED),
            lambda apps, schema_editor: move_content_types(apps, MOVED, backwards=True),
        ),
    ]
