"""Middleware of the platform."""

from django.conf import settings
from django.utils.cache import patch_cache_control, patch_vary_headers


class PrivateResponses:
    """A response to a request that carries credentials (a session cookie, an Authorization
    header) is per-user: `Cache-Control: private` and `Vary: Authorization, Cookie`, so that
    no shared cache keeps it for somebody else. (Static files are served before this.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
            patch_cache_control(response, private=True)
            patch_vary_headers(response, ("Authorization", "Cookie"))
        return response
