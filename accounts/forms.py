import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.models import Preferences

User = get_user_model()


class SignupForm(SetPasswordMixin, forms.Form):
    """The sign-up page's fields; the account itself is made by services.user_register, the
    API's path too, so both normalise and refuse the same names."""

    username = forms.CharField(
        label=capfirst(User._meta.get_field("username").verbose_name),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    email = forms.EmailField(label=_("Email address"), required=False)
    password1, password2 = SetPasswordMixin.create_password_fields()

    def clean(self):
        self.validate_passwords()
        return super().clean()

    def registration(self) -> dict:
        """The keyword arguments of services.user_register."""
        data = self.cleaned_data
        return {"username": data["username"], "password": data["password1"], "email": data["email"]}

    def add_registration_errors(self, error: ValidationError) -> None:
        """Show user_register's refusal next to the field it is about."""
        fields = {"username": "username", "email": "email", "password": "password2"}
        for field, messages in error.message_dict.items():
            self.add_error(fields.get(field), messages)


class PasswordConfirmForm(forms.Form):
    """The password that confirms an account's deletion (services.account_delete checks it)."""

    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autofocus": True})
    )


def time_zones() -> list[tuple[str, str]]:
    """The zones one may choose, by their names (which are the same in every language)."""
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [("", _("Same as this browser")), *[(z, z.replace("_", " ")) for z in zones]]


class PreferencesForm(forms.ModelForm):
    """The settings page's choices (accounts.models.Preferences)."""

    time_zone = forms.ChoiceField(label=_("Time zone"), required=False, choices=time_zones)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Same as this browser")), *settings.LANGUAGES],
    )

    class Meta:
        model = Preferences
        fields = ["time_zone", "language", "theme", "notifications", "sound"]
        labels = {
            "theme": _("Theme"),
            "notifications": _("Show a browser notification when a message arrives"),
            "sound": _("Play a sound when a message arrives"),
        }
        help_texts = {
            "notifications": _("Only while this site's tab is hidden or in the background."),
        }
        widgets = {"theme": forms.RadioSelect}
