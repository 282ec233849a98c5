"""The account pages: sign up, settings, and delete one's account."""

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import PasswordConfirmForm, PreferencesForm, SignupForm
from accounts.models import Preferences, preferences_of
from accounts.throttles import throttle_form_posts


@throttle_form_posts(per_username=False)
def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(**form.registration())
        except ValidationError as error:
            form.add_registration_errors(error)
        else:
            login(request, user, backend="accounts.backends.PreferencesBackend")
            return redirect("inbox")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def delete_account(request):
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_delete(
                user=request.user, password=form.cleaned_data["password"], request=request
            )
        except services.TooManyAttempts as error:
            form.add_error("password", str(error))
        except ValidationError as error:
            form.add_error("password", error.message_dict["password"])
        else:
            logout(request)
            flash.success(request, _("Your account is deleted. Its messages are being removed."))
            return redirect("login")
    return render(request, "accounts/delete_account.html", {"form": form})


@login_required
def preferences(request):
    """The settings page: time zone, language, theme, notifications and sound, and the way
    to the password change and the account's deletion."""
    form = PreferencesForm(request.POST or None, instance=preferences_of(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()
        if form.cleaned_data["language"]:  # the page after the redirect speaks it already
            translation.activate(form.cleaned_data["language"])
        flash.success(request, _("Settings saved."))
        response = redirect("settings")
        if language := form.cleaned_data["language"]:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        return response
    status = 400 if form.errors else 200
    return render(request, "accounts/settings.html", {"form": form}, status=status)


@require_POST
def set_language(request):
    """The header's language switch: Django's set_language (a cookie), and for a signed-in
    person their saved language too, which would otherwise win over the cookie."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        Preferences.objects.update_or_create(user=request.user, defaults={"language": language})
    return i18n.set_language(request)


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    """Django's password change, in the platform's style, back to the settings page. Django
    keeps this session signed in and ends every other one (the session's password hash)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("settings")
    success_message = gettext_lazy("Password changed. Your other sessions are signed out.")
