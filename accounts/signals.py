"""Thin receivers: a guard, then the purge handed to a task once the transaction commits."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from accounts import services, tasks
from accounts.models import AccountDeletion


@receiver(post_save, sender=AccountDeletion, dispatch_uid="accounts.deletion_post_save")
def deletion_post_save(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        tasks.purge_account.delay_on_commit(instance.user_id)


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="accounts.user_pre_delete")
def user_pre_delete(sender, instance, **kwargs):
    # An admin deletion: a purge removes whatever the cascade does not reach. (A purge
    # deleting its user at the end has its AccountDeletion row still: no second purge.)
    if not services.deletion_pending(instance.pk):
        tasks.purge_account.delay_on_commit(instance.pk)
