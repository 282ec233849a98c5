import time

from messaging import selectors

# The page asks its event stream for what happened since it was rendered, less this margin
# for clocks that differ between this server and Redis (events seen twice change nothing).
EVENTS_SINCE_MARGIN_MS = 2000


def unread(request):
    """The header's badges, on every page for a signed-in user (two indexed counts), and
    where the page's event stream starts."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_messages": selectors.unread_count(user),
        "unread_notifications": selectors.unread_notification_count(user),
        "events_since": int(time.time() * 1000) - EVENTS_SINCE_MARGIN_MS,
    }
