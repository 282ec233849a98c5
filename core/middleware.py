"""Middleware of the platform."""

import time
from dataclasses import asdict

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.utils.cache import patch_cache_control, patch_vary_headers


class RequestMetrics:
    """Count each request by route (its URL pattern, not its path: ids would make a series
    per message), method and status, and observe its duration (core.metrics). First in
    MIDDLEWARE, so that it sees every answer, the static files' and the lockouts' included."""

    def __init__(self, get_response):
        from core import metrics

        self.get_response = get_response
        self.requests, self.seconds = metrics.REQUESTS, metrics.REQUEST_SECONDS
        self.static = settings.STATIC_URL or "/static/"

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        if match is not None:
            route = match.view_name or match.route
        elif request.path_info.startswith(self.static):
            route = "static"
        else:
            route = "unmatched"
        method = request.method if request.method in _METHODS else "other"
        self.requests.labels(route, method, response.status_code).inc()
        self.seconds.labels(route, method).observe(elapsed)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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


class ContentSecurityPolicy(CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once per process.

    django-csp builds the header from the settings at every response, twice (the policy and
    the report-only one): a tenth of a cached API read's CPU (docs/benchmarks.md). A
    response with a policy of its own (`csp_replace` and the like), a page that used a
    nonce, or a report-only policy in the settings go through django-csp as before.
    """

    OWN_POLICY = tuple(
        f"_csp_{kind}{ro}" for kind in ("config", "update", "replace") for ro in ("", "_ro")
    )

    def __init__(self, get_response):
        super().__init__(get_response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        self.header = build_policy(**asdict(PolicyParts()))
        self.plain = not (
            getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or policy.get("EXCLUDE_URL_PREFIXES")
            or settings.DEBUG
        )

    def process_response(self, request, response):
        if (
            not self.plain
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in self.OWN_POLICY)
        ):
            return super().process_response(request, response)
        if HEADER not in response and not getattr(response, "_csp_exempt", False):
            response[HEADER] = self.header
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
