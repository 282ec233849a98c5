from django.contrib import admin

from messaging.models import Message, MessageDeletion, MessageHistory, Notification


class HistoryInline(admin.TabularInline):
    model = MessageHistory
    extra = 0
    can_delete = False
    fields = ["edited_at", "edited_by", "old_content"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "sender", "receiver", "short_content", "timestamp", "read", "edited"]
    list_filter = ["read", "edited", ("deleted_at", admin.EmptyFieldListFilter), "timestamp"]
    search_fields = ["content", "sender__username", "receiver__username"]
    raw_id_fields = ["sender", "receiver", "parent_message"]
    readonly_fields = ["edited", "edited_at", "deleted_at"]
    list_select_related = ["sender", "receiver"]
    date_hierarchy = "timestamp"
    inlines = [HistoryInline]

    @admin.display(description="content")
    def short_content(self, message):
        return message.content[:60]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "message", "created_at", "read"]
    list_filter = ["read", "created_at"]
    search_fields = ["user__username"]
    raw_id_fields = ["user", "message"]
    list_select_related = ["user"]


@admin.register(MessageHistory)
class MessageHistoryAdmin(admin.ModelAdmin):
    list_display = ["id", "message", "edited_at", "edited_by"]
    list_filter = ["edited_at"]
    search_fields = ["old_content"]
    raw_id_fields = ["message", "edited_by"]
    list_select_related = ["edited_by"]


@admin.register(MessageDeletion)
class MessageDeletionAdmin(admin.ModelAdmin):
    """Who deleted which message for everyone, and when; never what it said."""

    list_display = ["message_id", "sender_id", "receiver_id", "sent_at", "deleted_at"]
    list_filter = ["deleted_at", "had_attachment"]
    search_fields = ["=message_id", "=sender_id", "=receiver_id"]
    date_hierarchy = "deleted_at"
    readonly_fields = [f.name for f in MessageDeletion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
