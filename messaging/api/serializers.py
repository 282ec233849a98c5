from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.serializers import UserSerializer
from messaging import rules, search, selectors
from messaging.models import MESSAGE_FIELDS, Conversation, Message, MessageHistory, Notification

User = get_user_model()


# The largest primary key (bigint): a larger id is a 400, not a database overflow.
MAX_ID = 2**63 - 1


# Formats datetimes as every DateTimeField of the API does (ISO 8601, "Z" for UTC).
DATETIME = serializers.DateTimeField()


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class UserSearchSerializer(serializers.Serializer):
    # Short searches would list everybody, one letter at a time.
    search = serializers.CharField(min_length=3, max_length=150)


class MessageSearchSerializer(serializers.Serializer):
    """?q= on the message list (messaging.search.parse). Kept as sent, a space after the last
    word included: it says the word is whole, not still being typed."""

    q = serializers.CharField(
        trim_whitespace=False,
        max_length=search.MAX_QUERY_LENGTH,
        error_messages={
            "blank": search.EMPTY_QUERY,
            "max_length": search.LONG_QUERY,
        },
    )

    def validate_q(self, text: str) -> str:
        if not text.strip():
            raise serializers.ValidationError(search.EMPTY_QUERY)
        return text.lstrip()

    ordering = serializers.ChoiceField(
        choices=search.ORDERINGS,
        default="rank",
        error_messages={"invalid_choice": _('Use "rank" (best match first) or "-timestamp".')},
    )


class MeSerializer(serializers.ModelSerializer):
    unread_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "unread_count"]


class MessageSerializer(serializers.ModelSerializer):
    attachment = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = list(MESSAGE_FIELDS)
        read_only_fields = fields

    def get_attachment(self, message) -> str | None:
        """Attachments are served by the API, to the message's two people only."""
        return self._url("message-attachment", message) if message.attachment else None

    def get_thumbnail(self, message) -> str | None:
        """An image's preview (a JPEG), once the worker has made it."""
        return self._url("message-thumbnail", message) if message.thumbnail else None

    def _url(self, name: str, message) -> str:
        url = reverse(name, args=[message.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    def to_representation(self, message) -> dict:
        # The fields above, built in one go: a thread runs to thousands of messages and DRF's
        # walk over field objects took ~30 µs a message (docs/benchmarks.md). A test holds
        # this equal to DRF's own output.
        return {
            "id": message.pk,
            "sender": message.sender_id,
            "receiver": message.receiver_id,
            "content": message.content,
            "timestamp": DATETIME.to_representation(message.timestamp),
            "edited": message.edited,
            "edited_at": DATETIME.to_representation(message.edited_at),
            "read": message.read,
            "parent_message": message.parent_message_id,
            "attachment": self.get_attachment(message),
            "attachment_name": message.attachment_name,
            "attachment_size": message.attachment_size,
            "attachment_type": message.attachment_type,
            "thumbnail": self.get_thumbnail(message),
            "deleted_at": DATETIME.to_representation(message.deleted_at),
        }


class ThreadMessageSerializer(MessageSerializer):
    depth = serializers.IntegerField(read_only=True)
    sender_username = serializers.CharField(source="sender.username", read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "depth", "sender_username"]
        read_only_fields = fields

    def to_representation(self, message) -> dict:
        return {
            **super().to_representation(message),
            "depth": message.depth,
            "sender_username": message.sender.username,
        }


class SearchResultSerializer(MessageSerializer):
    # Not read-only, so that the schema does not require it: only searches (?q=) have it.
    highlight = serializers.CharField(
        required=False,
        help_text="With ?q= only: the content, HTML-escaped, with the matched words in "
        "<mark>...</mark>.",
    )

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "highlight"]
        read_only_fields = fields

    def to_representation(self, message) -> dict:
        return {**super().to_representation(message), "highlight": search.highlight(message)}


class ConversationSerializer(serializers.ModelSerializer):
    user = UserSerializer(source="other", read_only=True)
    last_message = MessageSerializer(read_only=True, help_text="The newest message, either way.")
    unread_count = serializers.IntegerField(
        source="unread", read_only=True, help_text="Messages from `user` you have not read."
    )

    class Meta:
        model = Conversation
        fields = ["user", "last_message", "unread_count"]


class MessageCreateSerializer(serializers.Serializer):
    # An id, not looked up here: the send's one statement checks that it is an active user
    # (services.message_insert), and the view turns a refusal into this field's 400.
    receiver = id_field()
    # Empty only with a file attached (rules.content_error).
    content = serializers.CharField(
        max_length=settings.MESSAGE_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    parent_message = id_field(required=False, allow_null=True)
    attachment = serializers.FileField(required=False, allow_null=True)

    def validate_parent_message(self, parent_id):
        if parent_id is None:
            return None
        parent = selectors.message_of(self.context["request"].user, parent_id)
        if parent is None:
            raise serializers.ValidationError(_("No message of yours has this id."))
        return parent

    def validate_attachment(self, attachment):
        if reason := rules.attachment_error(attachment):
            raise serializers.ValidationError(reason)
        return attachment

    def validate(self, attrs):
        errors = rules.new_message_errors(
            sender=self.context["request"].user,
            receiver=attrs["receiver"],
            content=attrs["content"],
            parent=attrs.get("parent_message"),
            with_file=bool(attrs.get("attachment")),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class MessageEditSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=settings.MESSAGE_MAX_LENGTH)


class MessageHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageHistory
        fields = ["id", "old_content", "edited_at", "edited_by"]


class IdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=id_field(), required=False, max_length=1000)


class NotificationSerializer(serializers.ModelSerializer):
    sender = serializers.IntegerField(source="message.sender_id", read_only=True)
    sender_username = serializers.CharField(source="message.sender.username", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "message", "sender", "sender_username", "created_at", "read"]
