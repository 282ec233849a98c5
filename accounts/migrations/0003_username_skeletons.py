"""Each account's username as it looks (accounts/usernames.py), unique. Existing accounts get
theirs; where two already look alike, the older keeps the skeleton (the newer is listed in
the migration's output, for ops to rename)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    from accounts.usernames import skeleton

    User = apps.get_model("auth", "User")
    UsernameSkeleton = apps.get_model("accounts", "UsernameSkeleton")
    seen = set()
    for user_id, username in User.objects.order_by("id").values_list("id", "username"):
        shape = skeleton(username)
        if shape in seen:
            print(f"\n  user {user_id} ({username!r}) looks like an older account: rename it")
            continue
        seen.add(shape)
        UsernameSkeleton.objects.create(user_id=user_id, skeleton=shape)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_table_and_permissions'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        migrations.CreateModel(
            name='UsernameSkeleton',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='username_skeleton', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('skeleton', models.CharField(max_length=600, unique=True)),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
