"""Thin receivers: a guard, then a hand-off of ids to a task once the transaction commits."""

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from accounts.services import user_data_purge
from core import replicas, stored
from core.signals import post_archive, pre_archive
from messaging import conversations, inbox_cache, selectors, services, tasks
from messaging.models import Message

# Before the receivers below: the row an edit replaces is read once per save (core.stored).
stored.track(Message)


@receiver(pre_save, sender=Message, dispatch_uid="messaging.message_pre_save")
def message_pre_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    instance.validate_for_save()
    services.message_stage_edit(instance)


@receiver(post_save, sender=Message, dispatch_uid="messaging.message_post_save")
def message_post_save(sender, instance, created, raw=False, **kwargs):
    inbox_cache.invalidate_on_commit(instance.sender_id, instance.receiver_id)
    if created:  # a restored message too: the list is derived from the messages
        conversations.message_added(instance)
    if raw:  # loaded as it was (fixtures, a restore from the archive): nothing new happened
        return
    if created:
        tasks.create_notification.delay_on_commit(instance.pk)
    elif edit := instance.__dict__.pop("_staged_edit", None):
        services.history_stage(message=instance, **edit)  # kept in the edit's transaction
        tasks.record_edit.delay_on_commit(instance.pk, **edit)


@receiver(pre_delete, sender=Message, dispatch_uid="messaging.message_pre_delete")
def message_pre_delete(sender, instance, origin=None, **kwargs):
    # Before the delete: a message loaded with `.only("id")` cannot read them after it.
    people = stored.values_before_delete(instance, ["sender_id", "receiver_id"], origin)
    inbox_cache.invalidate_on_commit(*people.values())
    conversations.stale([conversations.pair(*people.values())], using=instance._state.db)


@receiver(post_delete, sender=Message, dispatch_uid="messaging.message_post_delete")
def message_post_delete(sender, instance, **kwargs):
    # The first one of a delete finds all its messages gone (Django deletes, then signals).
    conversations.refresh_stale(using=instance._state.db)


@receiver(pre_archive, sender=Message, dispatch_uid="messaging.message_pre_archive")
def message_pre_archive(sender, pks, using, **kwargs):
    pairs = selectors.pairs_of(pks, using=using)
    inbox_cache.invalidate_on_commit(*{user_id for pair in pairs for user_id in pair})
    conversations.stale(pairs, using=using)


@receiver(post_archive, sender=Message, dispatch_uid="messaging.message_post_archive")
def message_post_archive(sender, using, **kwargs):
    conversations.refresh_stale(using=using)


@receiver(user_data_purge, dispatch_uid="messaging.user_data_purge")
def user_data_purge_messages(sender, user_id, batch_size, **kwargs):
    return services.messages_purge(user_id=user_id, batch_size=batch_size)


@receiver(services.unread_changed, dispatch_uid="messaging.unread_changed")
def unread_changed(sender, user_id, **kwargs):
    replicas.pin_on_commit(user_id)
    tasks.announce_unread.delay_on_commit(user_id)
