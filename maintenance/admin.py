from django.contrib import admin

from maintenance.models import ArchivedRecord


@admin.register(ArchivedRecord)
class ArchivedRecordAdmin(admin.ModelAdmin):
    list_display = ["content_type", "object_pk", "archived_at", "run"]
    list_filter = ["content_type", "archived_at"]
    search_fields = ["object_pk"]
    readonly_fields = ["content_type", "object_pk", "data", "archived_at", "run"]
    list_select_related = ["content_type"]

    def has_add_permission(self, request):
        return False
