from django.urls import path

from accounts import views

urlpatterns = [
    path("account/delete/", views.delete_account, name="delete-account"),
    path("accounts/signup/", views.signup, name="signup"),
]
