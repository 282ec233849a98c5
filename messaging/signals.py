"""Thin receivers, for what does not come through messaging.services (the admin, a script,
fixtures, a cascade, the archive): a guard, then the effects recorded in the outbox
(messaging.effects), which publishes them once the transaction commits. The services record
their own effects and send no signals."""

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from accounts.services import user_data_purge
from core import stored
from core.signals import post_archive, pre_archive
from messaging import conversations, effects, inbox_cache, selectors, services
from messaging.models import Message

# Before the receivers below: the row an edit replaces is read once per save (core.stored).
stored.track(Message)


@receiver(pre_save, sender=Message, dispatch_uid="messaging.message_pre_save")
def message_pre_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    instance.validate_for_save()
    services.message_edit_noticed(instance)


@receiver(post_save, sender=Message, dispatch_uid="messaging.message_post_save")
def message_post_save(sender, instance, created, raw=False, **kwargs):
    inbox_cache.invalidate_on_commit(instance.sender_id, instance.receiver_id)
    if not created:
        return
    # A restored message too: the conversation rows are derived from the messages.
    using = instance._state.db
    effects.conversations_changed([(instance.sender_id, instance.receiver_id)], using=using)
    if not raw:  # raw: loaded as it was (fixtures, the archive): nothing new happened
        effects.message_sent(instance.pk, using=using)


@receiver(pre_delete, sender=Message, dispatch_uid="messaging.message_pre_delete")
def message_pre_delete(sender, instance, origin=None, **kwargs):
    # Before the delete: a message loaded with `.only("id")` cannot read them after it.
    people = stored.values_before_delete(instance, ["sender_id", "receiver_id"], origin)
    inbox_cache.invalidate_on_commit(*people.values())
    conversations.stale([conversations.pair(*people.values())], using=instance._state.db)


@receiver(post_delete, sender=Message, dispatch_uid="messaging.message_post_delete")
def message_post_delete(sender, instance, **kwargs):
    # The first one of a delete finds all its messages gone (Django deletes, then signals).
    using = instance._state.db
    effects.conversations_changed(conversations.take_stale(using), using=using)


@receiver(pre_archive, sender=Message, dispatch_uid="messaging.message_pre_archive")
def message_pre_archive(sender, pks, using, **kwargs):
    pairs = selectors.pairs_of(pks, using=using)
    inbox_cache.invalidate_on_commit(*{user_id for pair in pairs for user_id in pair})
    conversations.stale(pairs, using=using)


@receiver(post_archive, sender=Message, dispatch_uid="messaging.message_post_archive")
def message_post_archive(sender, using, **kwargs):
    effects.conversations_changed(conversations.take_stale(using), using=using)


@receiver(user_data_purge, dispatch_uid="messaging.user_data_purge")
def user_data_purge_messages(sender, user_id, batch_size, **kwargs):
    return services.messages_purge(user_id=user_id, batch_size=batch_size)
