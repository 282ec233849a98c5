"""Token authentication that refuses expired tokens (accounts.tokens)."""

from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.tokens import expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token, refused API_TOKEN_MAX_AGE_DAYS after it was issued; POST
    /api/v1/auth/token/ then issues a new one (the old key is gone)."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if expired(token):
            raise AuthenticationFailed(_("Token expired; get a new one from /api/v1/auth/token/."))
        return user, token
