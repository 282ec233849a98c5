"""Turn errors raised below the API (services, model hooks, request parsing) into 400s."""

from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    elif isinstance(exc, SuspiciousOperation):  # too many fields, body too large, ...
        exc = ParseError(f"Malformed request: {exc}")
    return drf_exception_handler(exc, context)
