from django.urls import path
from rest_framework.routers import SimpleRouter

from messaging.api import views

router = SimpleRouter()
router.register("messages", views.MessageViewSet, basename="message")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("me/", views.MeView.as_view(), name="me"),
    path("events/", views.EventsView.as_view(), name="api-events"),
    path("conversations/", views.ConversationListView.as_view(), name="conversations"),
    path("conversations/<int:user_id>/", views.ConversationView.as_view(), name="conversation"),
    *router.urls,
]
