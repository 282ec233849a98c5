"""API tokens: they expire API_TOKEN_MAX_AGE_DAYS after they were issued, and a login
after that issues a new one (the old key is gone): a stolen token stops working by itself."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token


def expires_at(token: Token):
    return token.created + timedelta(days=settings.API_TOKEN_MAX_AGE_DAYS)


def expired(token: Token) -> bool:
    return expires_at(token) <= timezone.now()


def token_for(user) -> str:
    """The user's API token key; a new one when there is none or it has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token.key
