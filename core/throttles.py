"""Rate limits for any view, on DRF's throttle classes and rates (DEFAULT_THROTTLE_RATES): the
API's views declare theirs; pages use `throttle_page`, which counts in the same buckets and
answers the same 429, message and Retry-After, as a page for people."""

from functools import wraps

from django.shortcuts import render
from rest_framework.exceptions import Throttled
from rest_framework.throttling import ScopedRateThrottle


def wait(request, scope: str, *extra) -> float | None:
    """Seconds before `request` may go on under the `scope` rate (per user when signed in,
    per address otherwise) and the `extra` throttle classes; None when it may go on now."""
    view = type("Scope", (), {"throttle_scope": scope})
    waits = [
        throttle.wait() or 0
        for throttle in (cls() for cls in (ScopedRateThrottle, *extra))
        if not throttle.allow_request(request, view)
    ]
    return max(waits) if waits else None


def throttle_page(scope: str, *extra, methods=("POST",), when=lambda request: True):
    """Refuse a page's `methods` requests (for which `when` holds) over the `scope` rate."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            seconds = None
            if request.method in methods and when(request):
                seconds = wait(request, scope, *extra)
            if seconds is None:
                return view(request, *args, **kwargs)
            detail = Throttled(wait=seconds).detail
            response = render(request, "429.html", {"detail": detail}, status=429)
            response["Retry-After"] = str(int(seconds) + 1)
            return response

        return wrapper

    return decorator
