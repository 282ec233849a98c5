from messaging import selectors


def unread(request):
    """The header's badges, on every page for a signed-in user (two indexed counts)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_messages": selectors.unread_count(user),
        "unread_notifications": selectors.unread_notification_count(user),
    }
