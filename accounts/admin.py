from django.contrib import admin

from accounts.models import AccountDeletion


@admin.register(AccountDeletion)
class AccountDeletionAdmin(admin.ModelAdmin):
    list_display = ["user", "requested_at"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        # A deletion is accepted through accounts.services.account_delete (which locks the
        # account and records its purge), or by deleting the user here.
        return False
