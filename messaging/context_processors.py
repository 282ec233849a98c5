import time

from django.utils.functional import SimpleLazyObject

from messaging import selectors

# The page asks its event stream for what happened since it was rendered, less this margin
# for clocks that differ between this server and Redis (events seen twice change nothing).
EVENTS_SINCE_MARGIN_MS = 2000


def unread(request):
    """The header's badges, on every page for a signed-in user, and where the page's event
    stream starts. The counts are lazy: a fragment rendered with the request (the inbox's
    cached list) shows no badge and must not count."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "badges": SimpleLazyObject(lambda: selectors.unread_counts(user.pk)),
        "events_since": int(time.time() * 1000) - EVENTS_SINCE_MARGIN_MS,
    }
