from django.db import migrations


class Migration(migrations.Migration):
    """Account deletions belong to the accounts app now (accounts 0001). State only."""

    dependencies = [
        ("messaging", "0007_conversations"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AccountDeletion")],
            database_operations=[],
        ),
    ]
