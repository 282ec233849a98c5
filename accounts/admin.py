from django.contrib import admin

from accounts.models import AccountDeletion


@admin.register(AccountDeletion)
class AccountDeletionAdmin(admin.ModelAdmin):
    list_display = ["user", "requested_at"]
    raw_id_fields = ["user"]
