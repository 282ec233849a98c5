"""The address of the client behind a request, from the proxy count of the deployment.

`X-Forwarded-For` is a header anybody can send: only the entries the deployment's own
proxies appended (NUM_PROXIES of them, counted from the right) are trusted, and with no
proxy (the default) the connection's address is. DRF's throttles read NUM_PROXIES the same
way (REST_FRAMEWORK["NUM_PROXIES"]); django-axes calls this function.
"""

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote
