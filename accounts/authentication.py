"""Token authentication that refuses expired tokens (accounts.tokens), in one cheap query.

Every API request pays for its authentication, so the token and its user are read with one
SQL string, built once, and made into models with `from_db`, as the ORM would make them,
without the ORM compiling a query each time (the ORM's lookup was about a third of a cached
inbox read's CPU). The token is looked up at every request, never kept by a process: a
deleted token or a deactivated user is refused by the next request, whichever process
serves it (why a per-process cache was left out).
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from accounts.tokens import expired

User = get_user_model()

# DRF's keys are 40 hex digits; anything longer (or with a NUL, which PostgreSQL's text
# cannot hold) is no key of ours.
KEY_MAX_LENGTH = Token._meta.get_field("key").max_length


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token, refused API_TOKEN_MAX_AGE_DAYS after it was issued; POST
    /api/v1/auth/token/ then issues a new one (the old key is gone)."""

    def authenticate_credentials(self, key):
        found = token_and_user(key)
        if found is None:
            raise AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if expired(token):
            raise AuthenticationFailed(_("Token expired; get a new one from /api/v1/auth/token/."))
        return user, token


def token_and_user(key: str, using: str = DEFAULT_DB_ALIAS) -> tuple[Token, User] | None:
    """The token of this key and its user (the token's `user` set), or None."""
    if not key or len(key) > KEY_MAX_LENGTH or "\x00" in key:
        return None
    with connections[using].cursor() as cursor:
        cursor.execute(_statement(), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    user = User.from_db(using, _user_attnames(), row[1:])
    token = Token.from_db(using, ["key", "user_id", "created"], [key, user.pk, row[0]])
    token.user = user
    return token, user


@cache
def _user_attnames() -> list[str]:
    return [f.attname for f in User._meta.concrete_fields]


@cache
def _statement() -> str:
    columns = ", ".join(f'u."{f.column}"' for f in User._meta.concrete_fields)
    return (
        f'SELECT t."created", {columns} FROM "{Token._meta.db_table}" t '
        f'JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" WHERE t."key" = %s'
    )
