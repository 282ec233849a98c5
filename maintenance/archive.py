"""archive_old_records and restore_archived_records: old rows moved to ArchivedRecord and back.

A row is archived with everything Django would cascade-delete with it (a message takes its
notifications, history and replies along), batch by batch, each batch in one transaction
that checks it wrote to the archive exactly what it deleted. The cascade is walked with
primary keys and the rows are copied and deleted with set-based SQL (on PostgreSQL the rows
never leave the server), without signals: an archived row is not gone, so its files stay
(the orphan sweep knows archived rows reference them) and nothing reacts as to a deletion;
`core.signals.pre_archive` and `post_archive` tell whoever must know (the inbox cache, the
conversations list).
"""

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Q
from django.db.models.deletion import get_candidate_relations_to_delete
from django.utils import timezone

from core.signals import post_archive, pre_archive
from jobs.models import JobRun
from maintenance.models import ArchivedRecord

logger = logging.getLogger(__name__)

# A batch that collides with a concurrent run (a cascaded row archived by the other run
# first) is rolled back and tried again this many times.
BATCH_ATTEMPTS = 5


class ArchiveError(Exception):
    """A batch did not archive what it deleted; it was rolled back."""


@dataclass
class ArchiveResult:
    archived: Counter = field(default_factory=Counter)  # rows per model label
    batches: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.archived.values())

    def as_counts(self) -> dict:
        return {"archived": dict(self.archived), "batches": self.batches, "total": self.total}


# Beyond a hundred years the cutoff is before any row (and past year 1, a date overflows);
# a batch is one transaction, and a bigger one only holds its locks longer.
MAX_DAYS = 36_600
MAX_BATCH_SIZE = 100_000


def archive_old_records(
    model: type[models.Model],
    date_field: str,
    days_threshold: int = 365,
    *,
    filters: dict | Q | None = None,
    batch_size: int = 1000,
    dry_run: bool = False,
    run: JobRun | None = None,
    progress: Callable[[ArchiveResult], None] | None = None,
) -> ArchiveResult:
    """Move rows of `model` whose `date_field` is older than `days_threshold` days."""
    model._meta.get_field(date_field)  # FieldDoesNotExist early, with the field's name
    if not 0 <= days_threshold <= MAX_DAYS or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(
            f"days_threshold must be 0 to {MAX_DAYS} and batch_size 1 to {MAX_BATCH_SIZE}"
        )
    cutoff = timezone.now() - timedelta(days=days_threshold)
    old = model._base_manager.filter(**{f"{date_field}__lt": cutoff})
    if filters:
        old = old.filter(filters) if isinstance(filters, Q) else old.filter(**filters)
    started = time.monotonic()
    result = ArchiveResult(dry_run=dry_run)
    batches = _dry_batches(old, batch_size) if dry_run else _archive_batches(old, batch_size, run)
    for counts in batches:
        result.archived.update(counts)
        result.batches += 1
        result.seconds = time.monotonic() - started
        if progress:
            progress(result)
    result.seconds = time.monotonic() - started
    return result


def _archive_batches(old: models.QuerySet, batch_size: int, run) -> Iterator[Counter]:
    using = router.db_for_write(old.model)
    while True:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                with transaction.atomic(using=using):
                    # SKIP LOCKED (PostgreSQL): a concurrent run takes other rows, never these.
                    pks = list(
                        old.select_for_update(skip_locked=True)
                        .order_by("pk")
                        .values_list("pk", flat=True)[:batch_size]
                    )
                    if not pks:
                        return
                    counts = _archive_batch(old.model, pks, using, run)
                break
            except IntegrityError:
                if attempt == BATCH_ATTEMPTS:
                    raise
                logger.warning("archive batch collided with another run; retrying")
        yield counts


def _archive_batch(model, pks: list, using: str, run) -> Counter:
    rows = cascade(model, pks, using)
    written, deleted = Counter(), Counter()
    for row_model, row_pks in rows.items():
        written[row_model._meta.label] += _copy_to_archive(row_model, row_pks, using, run)
    for row_model, row_pks in rows.items():
        pre_archive.send(sender=row_model, pks=row_pks, using=using)
    # Dependents first; foreign keys are checked at commit anyway (deferred constraints).
    for row_model, row_pks in reversed(rows.items()):
        queryset = row_model._base_manager.using(using).filter(pk__in=row_pks)
        deleted[row_model._meta.label] += queryset._raw_delete(using)
    for row_model, row_pks in rows.items():
        post_archive.send(sender=row_model, pks=row_pks, using=using)
    expected = Counter({m._meta.label: len(p) for m, p in rows.items()})
    if not written == deleted == expected:
        raise ArchiveError(
            f"archived {dict(written)} but deleted {dict(deleted)} of {dict(expected)}; rolled back"
        )
    return written


def cascade(model, pks: list, using: str) -> dict[type, list]:
    """Primary keys of the rows and of every row Django would cascade-delete with them.

    The same relations Django's deletion Collector follows, walked with primary keys only
    (no model instances, no signals). A relation whose deletion would change or block other
    rows (SET_NULL, PROTECT, ...) cannot be archived faithfully and is refused.
    """
    found: dict[type, set] = {model: set(pks)}
    frontier = [(model, list(pks))]
    while frontier:
        current, keys = frontier.pop()
        for relation in get_candidate_relations_to_delete(current._meta):
            related = relation.related_model
            children = related._base_manager.using(using).filter(
                **{f"{relation.field.name}__in": keys}
            )
            if relation.on_delete is models.DO_NOTHING:
                continue
            if relation.on_delete is not models.CASCADE:
                if children.exists():
                    raise ArchiveError(
                        f"{related._meta.label}.{relation.field.name} has "
                        f"on_delete={relation.on_delete.__name__}: those rows would be changed "
                        "rather than archived"
                    )
                continue
            new = set(children.values_list("pk", flat=True)) - found.setdefault(related, set())
            if new:
                found[related] |= new
                frontier.append((related, list(new)))
    return {m: sorted(keys) for m, keys in found.items() if keys}


@functools.cache
def _columns_not_fields(using: str, model) -> tuple[str, ...]:
    """Columns the database keeps that the model does not know (a generated search
    document): not archived, since a restore writes only the model's fields."""
    with connections[using].cursor() as cursor:
        table = connections[using].introspection.get_table_description(cursor, model._meta.db_table)
    known = {field.column for field in model._meta.concrete_fields}
    return tuple(column.name for column in table if column.name not in known)


def _copy_to_archive(model, pks: list, using: str, run) -> int:
    """Write these rows to ArchivedRecord as {model, pk, fields: {attname: value}}."""
    content_type = ContentType.objects.db_manager(using).get_for_model(model)
    label = model._meta.label_lower
    # The rows never leave the server: one INSERT ... SELECT with to_jsonb per model.
    qn = connections[using].ops.quote_name
    pk_column = model._meta.pk.column
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {qn(ArchivedRecord._meta.db_table)}
                (content_type_id, object_pk, data, archived_at, run_id)
            SELECT %s, t.{qn(pk_column)}::text,
                   jsonb_build_object('model', %s, 'pk', t.{qn(pk_column)},
                                      'fields', to_jsonb(t) - %s::text[]),
                   %s, %s
            FROM {qn(model._meta.db_table)} t WHERE t.{qn(pk_column)} = ANY(%s)
            """,
            [
                content_type.pk,
                label,
                [pk_column, *_columns_not_fields(using, model)],
                timezone.now(),
                run.pk if run else None,
                pks,
            ],
        )
        return cursor.rowcount


def _dry_batches(old: models.QuerySet, batch_size: int) -> Iterator[Counter]:
    """Count what each batch would archive, cascades included, without writing anything."""
    using = router.db_for_write(old.model)
    last_pk = None
    while True:
        page = old.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return
        last_pk = pks[-1]
        yield Counter(
            {m._meta.label: len(keys) for m, keys in cascade(old.model, pks, using).items()}
        )


def restore_archived_records(
    *,
    run: JobRun | None = None,
    model: type[models.Model] | None = None,
    object_pks: list | None = None,
    batch_size: int = 1000,
) -> Counter:
    """Put archived rows back with their primary keys and remove them from the archive.

    `run` selects what that run archived, `model` narrows to that model's rows, `object_pks`
    to those rows of it. Each selected row comes back with what was archived along with it,
    as the archive took it: the archived rows that would cascade-delete with it (a message's
    notifications, history and replies, and theirs), wherever they were selected from.
    Parents go back before their dependents. Returns rows restored per model label.

        restore_archived_records(model=Message, object_pks=[42])  # 42 and its whole cascade
    """
    if object_pks is not None and model is None:
        raise ValueError("object_pks needs the model they belong to")
    records = ArchivedRecord.objects.all()
    if run is not None:
        records = records.filter(run=run)
    if model is not None:
        records = records.filter(content_type=ContentType.objects.get_for_model(model))
    if object_pks is not None:
        records = records.filter(object_pk__in=[str(pk) for pk in object_pks])
    records = ArchivedRecord.objects.filter(pk__in=_with_archived_cascade(records, batch_size))
    types = ContentType.objects.filter(pk__in=records.values("content_type"))
    ordered = serializers.sort_dependencies(
        [(ct.app_label, [ct.model_class()]) for ct in types], allow_cycles=True
    )
    restored = Counter()
    for restored_model in ordered:
        of_model = records.filter(
            content_type=ContentType.objects.get_for_model(restored_model)
        ).order_by("id")
        while batch := list(of_model[:batch_size]):
            with transaction.atomic():
                for obj in serializers.deserialize("python", [r.data for r in batch]):
                    obj.save()
                ArchivedRecord.objects.filter(pk__in=[r.pk for r in batch]).delete()
            restored[restored_model._meta.label] += len(batch)
    return restored


def _with_archived_cascade(records: models.QuerySet, batch_size: int) -> set[int]:
    """Ids of these archive records and of the archived rows that depend on them, walked as
    `cascade` walks live rows, through the foreign key values kept in each record's data."""
    found: set[int] = set()
    frontier: list[tuple[type, list]] = []

    def visit(model: type, rows) -> None:
        new = [object_pk for pk, object_pk in rows if pk not in found]
        found.update(pk for pk, _ in rows)
        for start in range(0, len(new), batch_size):
            frontier.append((model, new[start : start + batch_size]))

    for content_type in ContentType.objects.filter(pk__in=records.values("content_type")):
        rows = records.filter(content_type=content_type).values_list("pk", "object_pk")
        visit(content_type.model_class(), list(rows))
    while frontier:
        model, object_pks = frontier.pop()
        keys = [model._meta.pk.to_python(pk) for pk in object_pks]
        for relation in get_candidate_relations_to_delete(model._meta):
            if relation.on_delete is not models.CASCADE:
                continue
            dependents = ArchivedRecord.objects.filter(
                content_type=ContentType.objects.get_for_model(relation.related_model),
                **{f"data__fields__{relation.field.column}__in": keys},
            )
            visit(relation.related_model, list(dependents.values_list("pk", "object_pk")))
    return found
