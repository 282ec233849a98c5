"""Server-rendered pages for people who send messages."""

from functools import partial

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from core.replicas import replica_reads
from core.throttles import throttle_page
from messaging import inbox_cache, search, selectors, services
from messaging.forms import ComposeForm, EditForm, ReplyForm
from messaging.models import Message

PAGE_SIZE = 20


LISTS = {
    # box: (what it lists, the template of one page of it)
    "conversations": (selectors.conversations_for, "messaging/_conversation_list.html"),
    "inbox": (selectors.inbox_for, "messaging/_message_list.html"),
    "sent": (partial(selectors.inbox_for, box="sent"), "messaging/_message_list.html"),
}


@login_required
@require_GET
@replica_reads
def inbox(request, box: str = "conversations"):
    """The inbox: the conversations, or the received or sent messages one by one."""
    rows, template = LISTS[box]

    def render_list():
        page = Paginator(rows(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
        return render_to_string(template, {"page": page, "box": box}, request=request)

    # Only the list is cached: the header (badge, CSRF token) is rendered per request.
    list_html = inbox_cache.cached_for_user(request.user.pk, request, render_list)
    if request.GET.get("partial"):  # the list alone: an open page refreshing it (live.js)
        return inbox_cache.private(HttpResponse(list_html))
    context = {"list_html": list_html, "box": box, "page_number": request.GET.get("page") or "1"}
    return inbox_cache.private(render(request, "messaging/inbox.html", context))


@login_required
@require_POST
def mark_all_read(request):
    updated = services.messages_mark_read(user=request.user)
    flash.success(
        request,
        ngettext("%(count)d message marked as read.", "%(count)d messages marked as read.", updated)
        % {"count": updated},
    )
    return redirect("inbox")


def _visible_message(request, pk: int) -> Message:
    return get_object_or_404(selectors.messages_visible_to(request.user), pk=pk)


@login_required
@require_GET
@replica_reads
def thread(request, pk: int):
    message = _visible_message(request, pk)
    # Without ?page=, the part that holds the message the link pointed at.
    page = selectors.thread_part(message.pk, page=request.GET.get("page"))
    shown = page.object_list
    _show(request, shown)
    # ?partial=1: the messages alone, for an open page refreshing them (live.js).
    template = "_thread_posts.html" if request.GET.get("partial") else "thread.html"
    return render(
        request,
        f"messaging/{template}",
        {"page": page, "posts": shown, "focus": message.pk},
    )


# A page of a conversation shows this many threads, newest first.
THREADS_PER_PAGE = 10


@login_required
@require_GET
@replica_reads
def conversation(request, user_id: int):
    """Every thread between the user and another person, replies indented."""
    other = selectors.correspondent(request.user, user_id)
    if other is None:
        raise Http404
    page = Paginator(selectors.conversation_roots(request.user, other), THREADS_PER_PAGE)
    page = page.get_page(request.GET.get("page"))
    posts = [m for thread in selectors.threads(page.object_list).values() for m in thread]
    _show(request, posts)
    template = "_thread_posts.html" if request.GET.get("partial") else "conversation.html"
    context = {"page": page, "posts": posts, "other": other}
    return render(request, f"messaging/{template}", context)


def _show(request, posts: list[Message]) -> None:
    """Ready these messages to be shown: their earlier versions, their indent; and read."""
    histories = selectors.versions_of(posts)
    unread = [m.pk for m in posts if m.receiver_id == request.user.pk and not m.read]
    if unread:  # reading a page of messages reads them
        services.messages_mark_read(user=request.user, ids=unread)
    for m in posts:
        m.versions = histories.get(m.pk, [])
        m.indent = min(m.depth, 8)


@login_required
@require_POST
def reply(request, pk: int):
    parent = _visible_message(request, pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        other = parent.receiver if parent.sender_id == request.user.pk else parent.sender
        try:
            services.message_send(
                sender=request.user,
                receiver=other,
                content=form.cleaned_data["content"],
                parent_message=parent,
            )
            flash.success(request, _("Reply sent."))
        except ValidationError as error:
            flash.error(request, " ".join(error.messages))
        except services.TooManyMessages as error:
            flash.error(request, str(error))
    else:
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("thread", pk=pk)


@login_required
def compose(request):
    form = ComposeForm(
        request.POST or None,
        request.FILES or None,
        sender=request.user,
        initial={"receiver": request.GET.get("to", "")[:150]},  # from a conversation's page
    )
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_send(sender=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.TooManyMessages as error:
            form.add_error(None, str(error))
            response = render(request, "messaging/compose.html", {"form": form}, status=429)
            response["Retry-After"] = str(error.retry_after)
            return response
        else:
            flash.success(
                request, _("Message sent to %(name)s.") % {"name": message.receiver.username}
            )
            return redirect("thread", pk=message.pk)
    return render(request, "messaging/compose.html", {"form": form})


@login_required
def edit(request, pk: int):
    message = _visible_message(request, pk)
    services.message_check_editable(message=message, editor=request.user)
    form = EditForm(request.POST or None, initial={"content": message.content})
    if request.method == "POST" and form.is_valid():
        services.message_edit(
            message=message, editor=request.user, content=form.cleaned_data["content"]
        )
        flash.success(request, _("Message edited; its earlier version is kept."))
        return redirect("thread", pk=pk)
    return render(request, "messaging/edit.html", {"form": form, "message": message})


@login_required
@require_GET
@replica_reads
@throttle_page("search", methods=("GET",), when=lambda request: "q" in request.GET)
def search_messages(request):
    """Search the messages one sent or received: a page of highlighted results."""
    text = request.GET.get("q", "").strip()
    error, page = search.query_problem(text), None
    if not error:
        try:
            results = search.messages_search(request.user, text)
        except search.SearchTooBroad as too_broad:
            results, error = [], str(too_broad)
    if not error:
        page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
        prefetch_related_objects(page.object_list, "sender", "receiver")
        for message in page.object_list:
            message.highlight = mark_safe(search.highlight(message))  # escaped but the marks
    # The pager's links keep the query.
    query = f"{urlencode({'q': text})}&" if text else ""
    context = {"q": request.GET.get("q", ""), "page": page, "error": error, "query": query}
    return render(request, "messaging/search.html", context, status=400 if error else 200)


@login_required
@require_GET
@replica_reads
def notifications(request):
    page = Paginator(selectors.notifications_for(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = (
        "messaging/_notification_list.html"
        if request.GET.get("partial")
        else ("messaging/notifications.html")
    )
    return render(request, template, {"page": page})


@login_required
@require_POST
def notifications_read(request, pk: int | None = None):
    ids = None
    if pk is not None:
        ids = [get_object_or_404(selectors.notifications_for(request.user), pk=pk).pk]
    services.notifications_mark_read(user=request.user, ids=ids)
    return redirect("notifications")


@login_required
@require_GET
@replica_reads
def badge(request):
    """Unread messages and notifications: what a page asks when its event stream is down."""
    return JsonResponse(selectors.unread_counts(request.user.pk))


@require_GET
def events_elsewhere(request):
    """/events/ is served by the ASGI application (messaging.streams) ahead of Django: a
    request that gets here came through a server without it, and the page polls instead."""
    detail = _(
        "Live events are served by the ASGI application (config.asgi); route /events/ to it."
    )
    return JsonResponse({"detail": detail}, status=503)
