from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging import rules
from messaging.managers import MessageManager, UnreadMessagesManager

# What a message shows wherever it is listed (the pages, the API, search results): the one
# definition of a message's fields, for `only()` and the serializer alike.
MESSAGE_FIELDS = (
    "id",
    "sender",
    "receiver",
    "content",
    "timestamp",
    "edited",
    "edited_at",
    "read",
    "parent_message",
    "attachment",
    "attachment_name",
    "attachment_size",
    "attachment_type",
    "thumbnail",
    "deleted_at",
)


class Message(models.Model):
    # `only()` a list with these: it keeps the content of nothing else on the wire.
    FIELDS_SHOWN = MESSAGE_FIELDS

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages"
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="received_messages"
    )
    content = models.TextField(max_length=settings.MESSAGE_MAX_LENGTH)
    timestamp = models.DateTimeField(default=timezone.now)
    edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    read = models.BooleanField(default=False)
    parent_message = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    attachment = models.FileField(upload_to="attachments/%Y/%m/", blank=True)
    # What the file card shows: the name as uploaded, its size, and its type as its name
    # says (messaging.attachments); the file itself is always served as a download.
    # Defaults in the database too: rows written by SQL alone (loads, benchmarks) need none.
    attachment_name = models.CharField(max_length=255, blank=True, default="", db_default="")
    attachment_size = models.PositiveBigIntegerField(null=True, blank=True)
    attachment_type = models.CharField(max_length=100, blank=True, default="", db_default="")
    # An image's preview, made by the worker after the send commits (messaging.attachments):
    # re-encoded, metadata dropped. A file field, so the file lifecycle deletes it with its
    # row or when it is replaced, as it does the attachment.
    thumbnail = models.FileField(
        upload_to="thumbnails/%Y/%m/", blank=True, default="", db_default=""
    )
    # Deleted for everyone by its sender (services.message_delete): the row stays, emptied,
    # as the place its replies hang from.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = MessageManager()
    unread_messages = UnreadMessagesManager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["receiver", "-timestamp"], name="msg_inbox"),
            models.Index(fields=["sender", "-timestamp"], name="msg_sent"),
            # A pair's newest message and unread count (messaging.conversations).
            models.Index(fields=["sender", "receiver", "-timestamp"], name="msg_pair"),
            # The unread badge and the unread inbox read only these rows.
            models.Index(
                fields=["receiver", "-timestamp"], condition=Q(read=False), name="msg_unread"
            ),
            models.Index(fields=["parent_message", "timestamp"], name="msg_replies"),
            models.Index(fields=["timestamp"], name="msg_timestamp"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.sender_id}→{self.receiver_id}"

    def validate_for_save(self, *, insert_checks_receiver: bool = False) -> None:
        """Raise ValidationError unless this message may be written (messaging.rules).

        `insert_checks_receiver`: the insert checks that the receiver is active
        (services.message_insert), so a receiver known by its id only is not loaded.
        """
        if self._state.adding:
            receiver = self.receiver_id
            if receiver is not None and (
                Message.receiver.is_cached(self) or not insert_checks_receiver
            ):
                receiver = self.receiver
            errors = rules.new_message_errors(
                sender=self.sender if self.sender_id else None,
                receiver=receiver,
                content=self.content,
                parent=self.parent_message if self.parent_message_id else None,
                with_file=bool(self.attachment),
            )
        elif self.deleted_at is not None:
            errors = {}  # emptied on purpose
        else:
            reason = rules.content_error(self.content, with_file=bool(self.attachment))
            errors = {"content": reason} if reason else {}
        if errors:
            raise ValidationError(errors)


class Conversation(models.Model):
    """The inbox's list: one row per person `owner` exchanges messages with.

    Kept in the transactions that change messages (messaging.conversations), so that the list
    is read from this small table and never computed over the messages at request time.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # No constraint: a deleted or archived message is replaced here in the same transaction
    # (messaging.conversations.refresh_stale); a cascade would delete the conversation.
    last_message = models.ForeignKey(
        Message, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    last_at = models.DateTimeField()
    unread = models.PositiveIntegerField(default=0)  # messages from `other` `owner` has not read

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "other"], name="one_conversation_per_pair")
        ]
        indexes = [models.Index(fields=["owner", "-last_at", "-id"], name="conv_recent")]

    def __str__(self):
        return f"conversation of user {self.owner_id} with user {self.other_id}"


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "message"], name="one_notification_per_message")
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notif_user"),
            # The header's badge and every live event count only these rows.
            models.Index(fields=["user"], condition=Q(read=False), name="notif_unread"),
        ]

    def __str__(self):
        return f"notification of message #{self.message_id} for user {self.user_id}"


class MessageHistory(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="history")
    old_content = models.TextField()
    edited_at = models.DateTimeField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["edited_at", "id"]
        verbose_name_plural = "message histories"
        constraints = [
            # The task that writes a version may run twice (acks_late): one row per edit.
            models.UniqueConstraint(fields=["message", "edited_at"], name="one_history_per_edit")
        ]

    def __str__(self):
        return f"version of message #{self.message_id} before {self.edited_at:%Y-%m-%d %H:%M:%S}"


class MessageDeletion(models.Model):
    """That a message was deleted for everyone, and by whom, without what it said: the
    record ops keep (the admin's "Message deletions"). Plain ids, not foreign keys, so that
    it outlives the message and its people."""

    message_id = models.BigIntegerField(db_index=True)
    sender_id = models.BigIntegerField()
    receiver_id = models.BigIntegerField()
    sent_at = models.DateTimeField()
    deleted_at = models.DateTimeField(default=timezone.now)
    had_attachment = models.BooleanField(default=False)
    versions_deleted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self):
        return f"message #{self.message_id} deleted by user {self.sender_id}"
