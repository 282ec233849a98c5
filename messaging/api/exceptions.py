"""Turn errors raised below the API (services, model hooks, request parsing) into 4xx."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import (
    APIException,
    NotFound,
    ParseError,
    PermissionDenied,
    ValidationError,
)
from rest_framework.views import exception_handler as drf_exception_handler


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = _("The request is too large.")
    default_code = "request_too_large"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied) and str(exc):  # the service's reason
        exc = PermissionDenied(str(exc))
    elif isinstance(exc, Http404):  # get_object_or_404's words name the model, in English
        exc = NotFound(gettext("There is nothing here, or it is not yours."))
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(str(exc))
    elif isinstance(exc, SuspiciousOperation):  # too many fields, ...
        exc = ParseError(gettext("Malformed request: %(reason)s") % {"reason": exc})
    return drf_exception_handler(exc, context)
