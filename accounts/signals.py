"""Thin receivers: a guard, then the purge recorded in the outbox (an admin's deletion of a
user), or the open event streams told to re-check their credentials once the transaction
commits (best effort: each stream re-checks at every heartbeat anyway)."""

from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from accounts import services, usernames
from accounts.models import UsernameSkeleton
from core import events

User = get_user_model()


def _recheck_streams_on_commit(user_id: int) -> None:
    transaction.on_commit(partial(events.announce_recheck, user_id), robust=True)


@receiver(pre_delete, sender=User, dispatch_uid="accounts.user_pre_delete")
def user_pre_delete(sender, instance, **kwargs):
    # An admin deletion: a purge removes whatever the cascade does not reach. (A purge
    # deleting its user at the end has its AccountDeletion row still: no second purge.)
    if not services.deletion_pending(instance.pk):
        services.purge_record(user_id=instance.pk)


# An open stream ends with its credential (core.sse): a logout, a new password (Django's
# set_password leaves `_password` set until the save is done), a deactivation, a deleted
# account or a deleted (replaced) token.
@receiver(user_logged_out, dispatch_uid="accounts.streams_on_logout")
def streams_on_logout(sender, request, user, **kwargs):
    # Named: its session row is deleted only after this signal, so a re-check could race it.
    if user is not None and request.session.session_key:
        session = events.credential_id(request.session.session_key)
        events.announce_recheck(user.pk, revoked=session)


@receiver(post_save, sender=User, dispatch_uid="accounts.streams_on_user_save")
def streams_on_user_save(sender, instance, created, raw=False, **kwargs):
    if not created and not raw and (instance._password is not None or not instance.is_active):
        _recheck_streams_on_commit(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.streams_on_user_delete")
def streams_on_user_delete(sender, instance, **kwargs):
    _recheck_streams_on_commit(instance.pk)


@receiver(post_delete, sender=Token, dispatch_uid="accounts.streams_on_token_delete")
def streams_on_token_delete(sender, instance, **kwargs):
    _recheck_streams_on_commit(instance.user_id)


@receiver(post_save, sender=User, dispatch_uid="accounts.username_skeleton")
def username_skeleton(sender, instance, created, raw=False, **kwargs):
    # Every new account takes its look, whatever made it (registration, the admin,
    # createsuperuser), unless an account already has it: registration then refuses the
    # name (it checks the row is there), an admin's own choice is kept.
    if created and not raw:
        shape = usernames.skeleton(instance.username)
        UsernameSkeleton.objects.bulk_create(
            [UsernameSkeleton(user=instance, skeleton=shape)], ignore_conflicts=True
        )
