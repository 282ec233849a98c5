from django.db import migrations, models
from django.utils import timezone

# At the commit of every transaction that wrote outbox rows, one notification on the channel
# the relay listens to (PostgreSQL folds a transaction's identical notifications into one).
NOTIFY = """
CREATE FUNCTION core_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('core_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER core_outbox_notify AFTER INSERT ON core_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION core_outbox_notify();
"""
DROP_NOTIFY = """
DROP TRIGGER IF EXISTS core_outbox_notify ON core_outbox;
DROP FUNCTION IF EXISTS core_outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0002_runs_in_jobs")]

    operations = [
        migrations.CreateModel(
            name="OutboxRow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("topic", models.CharField(max_length=100)),
                ("payload", models.JSONField()),
                ("created_at", models.DateTimeField(default=timezone.now)),
            ],
            options={"db_table": "core_outbox", "verbose_name": "outbox row"},
        ),
        migrations.RunSQL(NOTIFY, DROP_NOTIFY),
    ]
