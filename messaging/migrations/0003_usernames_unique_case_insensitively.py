from django.db import migrations


class Migration(migrations.Migration):
    """One account per username as people read it: the registration compares usernames
    NFKC-normalised and case-insensitively; this index makes the database refuse the loser
    of a race. (Existing usernames that differ in case only must be merged first.)"""

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("messaging", "0002_pending_edits"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE UNIQUE INDEX username_case_insensitive ON auth_user (LOWER(username))",
            "DROP INDEX username_case_insensitive",
        )
    ]
