"""Writes of the accounts app: registration, deletion and the purge that follows it."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts import usernames
from accounts.models import AccountDeletion, UsernameSkeleton
from core import outbox

logger = logging.getLogger(__name__)
User = get_user_model()

# Sent by account_purge (keywords user_id, batch_size) before the user row goes: each app
# deletes what it keeps of that user, in batches of its own transactions, and returns how
# many rows of its main kind it deleted. A receiver must be safe to run twice.
user_data_purge = Signal()


def user_register(*, username: str, password: str, email: str = "") -> User:
    """Create an account: the one path of the sign-up page and the API.

    Usernames are compared as people read them: Unicode-normalised (NFKC: "ALICE" in
    fullwidth letters is "ALICE"), case-insensitively, and by their look (a Cyrillic "\u0441" is
    a Latin "c": accounts.usernames); the database holds both rules (a unique index on the
    lower-cased username, a unique skeleton), so a race has one winner."""
    username = User.normalize_username(username)
    taken = ValidationError({"username": _("This username is taken.")})
    shape = usernames.skeleton(username)
    holder = UsernameSkeleton.objects.filter(skeleton=shape).values_list("user__username")
    holder = holder.first()
    if User.objects.filter(username__iexact=username).exists() or (
        holder and holder[0].casefold() == username.casefold()
    ):
        raise taken  # registered meanwhile (between these two reads), in another case
    if holder:
        raise ValidationError({"username": _("This username looks like one already taken.")})
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    user.set_password(password)
    # Uniqueness is the database's (below): a check here would race with a registration of
    # the same name and answer with Django's wording instead of ours.
    user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            user.save()  # accounts.signals records its skeleton unless an account has it
            if not UsernameSkeleton.objects.filter(user=user).exists():
                raise IntegrityError(f"an account that looks like {username!r} won the race")
    except IntegrityError as error:  # registered meanwhile, in another spelling or look
        raise taken from error
    return user


class TooManyAttempts(Exception):
    """The account's password was guessed wrong too often from here (django-axes)."""


def password_confirm(*, request, user: User, password: str) -> None:
    """Check the user's password the way a login does, so wrong guesses count towards the
    login lockout (django-axes, per username and address): ValidationError when wrong,
    TooManyAttempts when locked out."""
    confirmed = authenticate(request, username=user.get_username(), password=password)
    if getattr(request, "axes_locked_out", False):
        raise TooManyAttempts(_("Too many wrong passwords; try again later."))
    if confirmed is None or confirmed.pk != user.pk:
        raise ValidationError({"password": _("The password is not correct.")})


def account_delete(*, user: User, password: str, request=None) -> None:
    """Lock the account at once and leave its data to the purge task.

    With the `request`, the password is checked as a login (see password_confirm).

    From this commit on the user cannot log in (inactive, no usable password, so every
    session's auth hash is stale, no token). The purge task is recorded in the outbox
    with it; the AccountDeletion row stays until the purge has finished.
    """
    if request is not None:
        password_confirm(request=request, user=user, password=password)
    elif not user.check_password(password):
        raise ValidationError({"password": _("The password is not correct.")})
    with transaction.atomic():
        _deletion, created = AccountDeletion.objects.get_or_create(user=user)
        if created:
            purge_record(user_id=user.pk)
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        Token.objects.filter(user=user).delete()


PURGE_ACCOUNT = "accounts.purge_account"


def purge_record(*, user_id: int) -> None:
    """Purge this user once the current transaction commits (the outbox)."""
    outbox.record(PURGE_ACCOUNT, {"user_id": user_id})


outbox.task_topic(PURGE_ACCOUNT)


def account_purge(*, user_id: int, batch_size: int | None = None) -> int:
    """Delete everything of a user (each app's part through user_data_purge), then the
    user. Returns the rows the apps deleted. Safe to run twice or at the same time."""
    batch_size = batch_size or settings.ACCOUNT_PURGE_BATCH_SIZE
    responses = user_data_purge.send(sender=User, user_id=user_id, batch_size=batch_size)
    deleted = sum(count for _, count in responses if isinstance(count, int))
    User.objects.filter(pk=user_id).delete()
    logger.info("purged user %s: %s rows", user_id, deleted)
    return deleted


def account_deletions_pending(*, older_than_seconds: int) -> list[int]:
    """Users whose deletion was accepted this long ago and whose purge has not finished."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        AccountDeletion.objects.filter(requested_at__lt=cutoff).values_list("user_id", flat=True)
    )


def deletion_pending(user_id: int) -> bool:
    """Whether this user's account deletion was accepted and its purge has not finished."""
    return AccountDeletion.objects.filter(user_id=user_id).exists()
