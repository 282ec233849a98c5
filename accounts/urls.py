from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.throttles import throttle_form_posts

# Django's login, throttled as the API's token endpoint is (accounts.throttles).
login = throttle_form_posts(per_username=True)(auth_views.LoginView.as_view())

urlpatterns = [
    path("accounts/login/", login, name="login"),
    path("account/delete/", views.delete_account, name="delete-account"),
    path("settings/", views.preferences, name="settings"),
    path("accounts/password_change/", views.PasswordChange.as_view(), name="password_change"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("accounts/signup/", views.signup, name="signup"),
]
