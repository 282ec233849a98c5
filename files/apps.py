from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FilesConfig(AppConfig):
    """The file lifecycle: a file goes when the last row holding it goes (files/lifecycle.py).
    A library of the platform's: it knows no other app; the archive tells it, through
    `lifecycle.references_elsewhere`, which names its archived rows still hold."""

    name = "files"
    verbose_name = _("Files")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from files import signals

        signals.connect_file_receivers()
