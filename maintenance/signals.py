"""The archive's part in the file lifecycle: a file an archived row holds stays, since a
restore brings the row back with its file."""

from django.contrib.contenttypes.models import ContentType
from django.dispatch import receiver

from files.lifecycle import references_elsewhere
from maintenance.models import ArchivedRecord


@receiver(references_elsewhere, dispatch_uid="maintenance.archived_file_references")
def archived_file_references(sender, fields, names, **kwargs) -> set[str]:
    archived = ArchivedRecord.objects.filter(content_type=ContentType.objects.get_for_model(sender))
    held = set()
    for field in fields:
        key = f"data__fields__{field.name}"
        held.update(archived.filter(**{f"{key}__in": names}).values_list(key, flat=True))
    return held
