"""The REST API (Django REST framework) and its schema (drf-spectacular)."""

from config.settings.base import NUM_PROXIES
from config.settings.env import env, positive, rate
from config.settings.messaging import SEARCH_RATE

# API tokens expire this many days after they were issued (accounts/authentication.py).
API_TOKEN_MAX_AGE_DAYS = env.int("API_TOKEN_MAX_AGE_DAYS", 30, validate=positive)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "messaging.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "messaging.api.parsers.StrictMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "messaging.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    # Registration and token requests are password guesses too: slow them down per client,
    # and token requests per username too, whichever address they come from.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH_RATE", "20/min", validate=rate),
        "auth_username": env.str("THROTTLE_AUTH_USERNAME_RATE", "10/min", validate=rate),
        # Searches per person (messaging: the API's and the search page's alike).
        "search": SEARCH_RATE,
    },
    # Client addresses: see core/clients.py.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Messaging platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The live events' payloads, from their declarations (core/event_types.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.event_types.add_to_schema",
    ],
}
