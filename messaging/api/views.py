from django.contrib.auth import logout
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.serializers import PasswordSerializer
from core import event_types, throttles
from core.replicas import replica_reads
from messaging import search, selectors, services
from messaging.api import serializers as s
from messaging.api.caching import cache_per_user
from messaging.models import Conversation, Message

UPDATED = inline_serializer("Updated", {"updated": serializers.IntegerField()})
COUNT = inline_serializer("Count", {"count": serializers.IntegerField()})


class ApiRootView(APIView):
    """What the API holds: each resource and where it is, for a client finding its way (and
    a person opening /api/v1/ in a browser). Open to anybody: it names only public URLs."""

    permission_classes = [AllowAny]
    RESOURCES = {
        "register": "register",
        "token": "token",
        "me": "me",
        "messages": "message-list",
        "conversations": "conversations",
        "notifications": "notification-list",
        "users": "user-list",
        "events": "api-events",
        "schema": "schema",
        "docs": "api-docs",
    }

    @extend_schema(
        responses=inline_serializer("ApiRoot", {name: serializers.URLField() for name in RESOURCES})
    )
    def get(self, request):
        return Response(
            {
                name: request.build_absolute_uri(reverse(url_name))
                for name, url_name in self.RESOURCES.items()
            }
        )


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        request.user.unread_count = selectors.unread_count(request.user)
        return Response(s.MeSerializer(request.user).data)

    @extend_schema(request=PasswordSerializer, responses={202: None})
    def delete(self, request):
        data = PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            account_services.account_delete(
                user=request.user, password=data.validated_data["password"], request=request
            )
        except account_services.TooManyAttempts as error:
            raise Throttled(detail=str(error)) from None
        logout(request)
        return Response(
            {"detail": _("Your account is deleted; its data is being removed.")},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    parameters=[
        OpenApiParameter(
            "box",
            str,
            enum=["inbox", "sent"],
            description="Default: inbox; with q, both (received and sent).",
        ),
        OpenApiParameter("unread", bool, description="Only unread messages (received)."),
        OpenApiParameter(
            "q",
            str,
            description="Search your messages (1 to 200 characters): words (all must match), "
            '"exact phrase", -excluded, or; the last word also as a prefix; accents and case '
            "ignored; Japanese, Chinese and emoji as substrings; filters from:name, to:name, "
            "has:attachment, is:unread, before:YYYY-MM-DD, after:YYYY-MM-DD (400 for a "
            "person or date that is not one). Each result has a `highlight`. The newest "
            "SEARCH_MAX_RESULTS (1,000) matches are ranked.",
        ),
        OpenApiParameter(
            "ordering",
            str,
            enum=list(search.ORDERINGS),
            description="With q: rank (best match first, the default) or -timestamp.",
        ),
    ],
)
class MessageViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.MessageSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Message.objects.none()
        if self.action == "list":
            params = self.request.query_params
            box = params.get("box", "inbox")
            if box not in ("inbox", "sent"):
                raise serializers.ValidationError({"box": [_('Use "inbox" or "sent".')]})
            unread = params.get("unread", "").lower() in ("1", "true")
            if "q" in params:
                query = s.MessageSearchSerializer(data=params)
                query.is_valid(raise_exception=True)
                return search.messages_search(
                    self.request.user,
                    query.validated_data["q"],
                    box=params.get("box"),
                    unread=unread,
                    ordering=query.validated_data["ordering"],
                )
            return selectors.inbox_for(self.request.user, box=box, unread=unread)
        return selectors.messages_visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action == "list" and "q" in self.request.query_params:
            return s.SearchResultSerializer
        return {
            "create": s.MessageCreateSerializer,
            "partial_update": s.MessageEditSerializer,
        }.get(self.action, s.MessageSerializer)

    @extend_schema(responses=s.SearchResultSerializer(many=True))
    def list(self, request, *args, **kwargs):
        if "q" in request.query_params:  # searches are not cached
            return self._search(request, *args, **kwargs)
        return self._cached_list(request, *args, **kwargs)

    @replica_reads
    def _search(self, request, *args, **kwargs):
        if (seconds := throttles.wait(request, "search")) is not None:
            raise Throttled(wait=seconds)
        try:
            return super().list(request, *args, **kwargs)
        except (search.SearchTooBroad, search.BadQuery) as refused:
            raise serializers.ValidationError({"q": [str(refused)]}) from None

    @cache_per_user
    @replica_reads
    def _cached_list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @replica_reads
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=s.MessageCreateSerializer, responses={201: s.MessageSerializer})
    def create(self, request, *args, **kwargs):
        data = s.MessageCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        try:
            message = services.message_send(sender=request.user, **data.validated_data)
        except services.TooManyMessages as error:
            raise Throttled(wait=error.retry_after, detail=str(error)) from None
        body = s.MessageSerializer(message, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MessageEditSerializer, responses=s.MessageSerializer)
    def partial_update(self, request, *args, **kwargs):
        message = self.get_object()
        services.message_check_editable(message=message, editor=request.user)
        data = s.MessageEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(
            message=message, editor=request.user, content=data.validated_data["content"]
        )
        return Response(s.MessageSerializer(message, context={"request": request}).data)

    @extend_schema(
        responses={204: None},
        description="Delete your message for everyone: its content, attachment and earlier "
        "versions go; it stays as a placeholder (`deleted_at` set, `content` empty) that its "
        "replies hang from. Only its sender may (403). Deleting it again changes nothing.",
    )
    def destroy(self, request, *args, **kwargs):
        services.message_delete(message=self.get_object(), deleter=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.MessageHistorySerializer(many=True))
    @action(detail=True)
    @replica_reads
    def history(self, request, pk=None):
        versions = selectors.history_of(self.get_object())
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(s.MessageHistorySerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "page",
                int,
                description=f"Part of the thread, {selectors.THREAD_PART_SIZE} messages each "
                "in display order (default 1: a thread that short comes whole).",
            )
        ],
        responses=inline_serializer(
            "Thread",
            {
                "root": serializers.IntegerField(),
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "messages": s.ThreadMessageSerializer(many=True),
            },
        ),
    )
    @action(detail=True)
    @replica_reads
    def thread(self, request, pk=None):
        message = self.get_object()
        part = selectors.thread_part(message.pk, page=request.query_params.get("page", "1"))
        data = s.ThreadMessageSerializer(part, many=True, context={"request": request}).data
        return Response(
            {
                "root": part[0].root_id,
                "count": part.paginator.count,
                "next": _page_url(request, part.next_page_number() if part.has_next() else None),
                "previous": _page_url(
                    request, part.previous_page_number() if part.has_previous() else None
                ),
                "messages": data,
            }
        )

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True)
    def attachment(self, request, pk=None):
        """The file, to the message's two people only, always as a download: never shown
        in the platform's origin, whatever it holds (a "picture" that is HTML)."""
        message = self.get_object()
        if not message.attachment:
            raise NotFound(_("This message has no attachment."))
        name = message.attachment_name or message.attachment.name.rsplit("/", 1)[-1]
        response = FileResponse(message.attachment.open("rb"), as_attachment=True, filename=name)
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    @action(detail=True)
    def thumbnail(self, request, pk=None):
        """The preview of the message's image, made by the platform (a JPEG without
        metadata): shown inline in conversations."""
        message = self.get_object()
        if not message.thumbnail:
            raise NotFound(_("This message has no preview."))
        response = FileResponse(message.thumbnail.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
        return response

    @extend_schema(responses=COUNT)
    @action(detail=False, url_path="unread-count")
    @replica_reads
    def unread_count(self, request):
        return Response({"count": selectors.unread_count(request.user)})

    @extend_schema(request=s.IdsSerializer, responses=UPDATED)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        data = s.IdsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.messages_mark_read(user=request.user, ids=data.validated_data.get("ids"))
        return Response({"updated": updated})


def _page_url(request, number: int | None) -> str | None:
    if number is None:
        return None
    return replace_query_param(request.build_absolute_uri(), "page", number)


class ConversationListView(generics.ListAPIView):
    """The people you exchange messages with, most recent activity first."""

    serializer_class = s.ConversationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Conversation.objects.none()
        return selectors.conversations_for(self.request.user)

    @cache_per_user
    @replica_reads
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class ConversationView(generics.GenericAPIView):
    serializer_class = s.ThreadMessageSerializer

    @extend_schema(
        responses=inline_serializer(
            "ConversationPage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": inline_serializer(
                    "ConversationThread",
                    {
                        "root": serializers.IntegerField(),
                        "messages": s.ThreadMessageSerializer(many=True),
                    },
                    many=True,
                ),
            },
        )
    )
    @replica_reads
    def get(self, request, user_id: int):
        other = selectors.correspondent(request.user, user_id) if user_id <= s.MAX_ID else None
        if other is None:
            raise NotFound(_("No such user."))
        root_ids = self.paginate_queryset(selectors.conversation_roots(request.user, other))
        context = {"request": request}
        threads = [
            {
                "root": root_id,
                "messages": s.ThreadMessageSerializer(messages, many=True, context=context).data,
            }
            for root_id, messages in selectors.threads(root_ids).items()
        ]
        return self.get_paginated_response(threads)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.NotificationSerializer

    @extend_schema(parameters=[OpenApiParameter("unread", bool)])
    @replica_reads
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower() in ("1", "true")
        return selectors.notifications_for(self.request.user, unread=unread)

    @extend_schema(request=s.IdsSerializer, responses=UPDATED)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        data = s.IdsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("ids")
        return Response({"updated": services.notifications_mark_read(user=request.user, ids=ids)})


class UserViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.UserSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, required=True, description="3 characters or more.")
        ]
    )
    @replica_reads
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.users_matching("")
        query = s.UserSearchSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.users_matching(query.validated_data["search"])


EVENTS_DESCRIPTION = """A Server-Sent Events stream (`text/event-stream`) of the
authenticated user's live events. Send the token in the `Authorization` header: a token in
the URL is refused (400). Served by the ASGI application (`config.asgi`); at most
`EVENTS_MAX_STREAMS_PER_USER` streams open per user (then 429).

Every event has an `id:`. Reconnect with `Last-Event-ID: <id>` (browsers' EventSource does
it by itself) to be sent, first, every event missed since; when the log no longer holds them
all, the first event is `stream.reset`: reload what you show. A `:` comment line comes every
`EVENTS_HEARTBEAT_SECONDS`; `retry:` says when to come back after the stream ends.

Events (`event:` name, then the JSON of `data:`; their schemas are the `...Event`
components), `message` being a message as `/api/v1/messages/` shows it plus
`sender_username`, and `unread` the user's new unread counts `{"messages": n,
"notifications": n}`:

"""


class EventsView(APIView):
    """Reached only through a server without the ASGI stream application in front (a WSGI
    server, the test client): the schema's description of the stream, and a 503 that says
    where it is served."""

    @extend_schema(
        description=EVENTS_DESCRIPTION + event_types.describe(),
        parameters=[
            OpenApiParameter("Last-Event-ID", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(
                "since", int, description="On a first connection: events since this time (ms)."
            ),
        ],
        responses={(200, "text/event-stream"): str, 401: None, 429: None, 503: None},
    )
    def get(self, request):
        return Response(
            {"detail": _("The event stream is served by the ASGI application (config.asgi).")},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
