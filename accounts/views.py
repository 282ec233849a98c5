"""The account pages: sign up and delete one's account."""

from django.contrib import messages as flash
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import services
from accounts.forms import PasswordConfirmForm, SignupForm
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
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
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
