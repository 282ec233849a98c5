from django.urls import path

from messaging import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("received/", views.inbox, {"box": "inbox"}, name="received"),
    path("sent/", views.inbox, {"box": "sent"}, name="sent"),
    path("people/<int:user_id>/", views.conversation, name="conversation"),
    path("people/<int:user_id>/send/", views.conversation_send, name="conversation-send"),
    path("inbox/read-all/", views.mark_all_read, name="mark-all-read"),
    path("compose/", views.compose, name="compose"),
    path("messages/<int:pk>/", views.thread, name="thread"),
    path("messages/<int:pk>/reply/", views.reply, name="reply"),
    path("messages/<int:pk>/edit/", views.edit, name="edit"),
    path("messages/<int:pk>/delete/", views.delete, name="delete"),
    path("search/", views.search_messages, name="search"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read, name="notifications-read-all"),
    path("notifications/<int:pk>/read/", views.notifications_read, name="notification-read"),
    path("badge/", views.badge, name="badge"),
    path("events/", views.events_elsewhere, name="events"),
]
