"""The API's account endpoints: register, and get a token."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import services, tokens
from accounts.serializers import RegisterSerializer, UserSerializer
from accounts.throttles import UsernameRateThrottle


class RegisterView(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer})
    def post(self, request):
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(ObtainAuthToken):
    # ObtainAuthToken has no throttles of its own (throttle_classes = ()) and DRF's parsers.
    throttle_classes = [ScopedRateThrottle, UsernameRateThrottle]
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_scope = "auth"

    def post(self, request, *args, **kwargs):
        try:
            data = self.get_serializer(data=request.data)
            data.is_valid(raise_exception=True)
        except serializers.ValidationError:
            # django-axes marks the DRF request, which its middleware never sees: answer the
            # lockout here, as the login page does.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(detail=_("Too many failed logins; try again later.")) from None
            raise
        return Response({"token": tokens.token_for(data.validated_data["user"])})
