"""Server-rendered pages for people who send messages."""

from functools import partial

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from core.replicas import replica_reads
from core.throttles import throttle_page
from messaging import inbox_cache, search, selectors, services
from messaging.chat_rows import rows_html
from messaging.forms import ChatForm, ComposeForm, EditForm, ReplyForm
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
    """A whole thread, replies indented: for deep threads (a conversation quotes instead)."""
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


@login_required
@require_GET
@replica_reads
def conversation(request, user_id: int):
    """The messages between the user and another person, oldest at the top, in parts.

    ?before=<id> (older) and ?after=<id> (newer) show another part; ?around=<id> opens the
    page on that message (a search result's link), with what came just before and after it.
    Asked by the open page (chat.js, with X-Requested-With: fetch), the answer is the part's
    rows alone, saying in X-More-Messages whether more lie beyond; ?id=<id> then is one row
    (an edited message).
    """
    other = selectors.correspondent(request.user, user_id)
    if other is None:
        raise Http404
    anchors = {}
    for key in ("before", "after", "id", "around"):
        if key in request.GET:
            anchors[key] = selectors.conversation_message(request.user, other, request.GET[key])
            if anchors[key] is None:
                return HttpResponseBadRequest(_("No such message in this conversation."))
    fragment = request.headers.get("X-Requested-With") == "fetch"
    if "id" in anchors:
        if not fragment:
            return redirect(_in_conversation(request.user, anchors["id"]))
        messages = selectors.conversation_rows(request.user, other, [anchors["id"].pk])
        return _rows(request, other, messages, more=False)
    if "around" in anchors and not fragment:
        messages, more, newer = selectors.conversation_around(
            request.user, other, anchors["around"]
        )
        return _conversation_page(request, other, messages, more, newer=newer)
    messages, more = selectors.conversation_part(
        request.user, other, before=anchors.get("before"), after=anchors.get("after")
    )
    if fragment:
        return _rows(request, other, messages, more=more)
    return _conversation_page(request, other, messages, more)


def _rows(request, other, messages: list, *, more: bool, status=200) -> HttpResponse:
    _show(request, messages, grouped=True)
    response = HttpResponse(rows_html(messages, me=request.user, other=other), status=status)
    response["X-More-Messages"] = "1" if more else "0"
    return response


def _conversation_page(
    request, other, messages, more, *, newer: bool = False, draft: str = "", status: int = 200
):
    _show(request, messages, grouped=True)
    first_unread = next(
        (m.pk for m in messages if m.receiver_id == request.user.pk and not m.read), None
    )
    unread = selectors.unread_from(request.user, other)
    if more and unread > sum(m.receiver_id == request.user.pk and not m.read for m in messages):
        first_unread = selectors.first_unread_from(request.user, other)  # in an older part
    context = {
        "other": other,
        "rows": messages,
        "rows_html": rows_html(messages, me=request.user, other=other, first_unread=first_unread),
        "more": more,
        "newer": newer,
        "first_unread": first_unread,
        "draft": draft,
        "max_length": settings.MESSAGE_MAX_LENGTH,
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "attachment_max_megabytes": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024),
        "attachment_types": settings.ATTACHMENT_TYPES,
    }
    return render(request, "messaging/conversation.html", context, status=status)


# Messages of one sender closer than this in time show under one name and time.
GROUPED_WITHIN_SECONDS = 5 * 60


def _group(messages: list) -> None:
    """Mark each message that follows one of the same sender closely (`grouped`): the page
    shows it without its sender's name and time. chat.js applies the same rule to what it
    adds."""
    previous = None
    for message in messages:
        message.grouped = (
            previous is not None
            and previous.sender_id == message.sender_id
            and (message.timestamp - previous.timestamp).total_seconds() < GROUPED_WITHIN_SECONDS
        )
        previous = message


@login_required
@require_POST
def conversation_send(request, user_id: int):
    """Send a message from a conversation's composer. chat.js posts it with fetch
    (X-Requested-With) and gets the new row (201), or the reason it was refused in JSON
    (400, 429 with Retry-After); a plain form post comes back to the conversation."""
    other = selectors.correspondent(request.user, user_id)
    if other is None:
        raise Http404
    from_script = request.headers.get("X-Requested-With") == "fetch"
    form = ChatForm(request.POST, request.FILES)
    parent, error, retry_after = None, None, None
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
    elif form.cleaned_data["parent"]:
        parent = selectors.conversation_message(request.user, other, form.cleaned_data["parent"])
        if parent is None:
            error = _("The message you reply to is not in this conversation.")
    if error is None:
        try:
            message = services.message_send(
                sender=request.user,
                receiver=other,
                content=form.cleaned_data["content"],
                parent_message=parent,
                attachment=form.cleaned_data["attachment"],
            )
        except ValidationError as refused:
            error = " ".join(refused.messages)
        except services.TooManyMessages as refused:
            error, retry_after = str(refused), refused.retry_after
    status = 400 if retry_after is None else 429
    if from_script:
        if error is not None:
            response = JsonResponse({"detail": error}, status=status)
        else:
            rows = selectors.conversation_rows(request.user, other, [message.pk])
            response = _rows(request, other, rows, more=False, status=201)
    elif error is not None:
        flash.error(request, error)
        messages, more = selectors.conversation_part(request.user, other)
        response = _conversation_page(
            request, other, messages, more, draft=request.POST.get("content", ""), status=status
        )
    else:
        response = redirect(_in_conversation(request.user, message))
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _in_conversation(user, message: Message) -> str:
    """The URL of `message` in the user's conversation with its other person."""
    other = message.receiver_id if message.sender_id == user.pk else message.sender_id
    return f"{reverse('conversation', args=[other])}#m{message.pk}"


def _show(request, posts: list, *, grouped: bool = False) -> None:
    """Ready these messages to be shown: their earlier versions, their indent, whose they
    are, and with `grouped` which follow their sender's previous one (a conversation).
    Showing marks nothing read: the page's script does, once a message has been on screen
    in a tab the reader looks at (reading.js)."""
    histories = selectors.versions_of(posts)
    for m in posts:
        m.versions = histories.get(m.pk, [])
        m.indent = min(getattr(m, "depth", 0), 8)
        m.mine = m.sender_id == request.user.pk
    if grouped:
        _group(posts)


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
            return redirect(_in_conversation(request.user, message))
    return render(request, "messaging/compose.html", {"form": form})


@login_required
def edit(request, pk: int):
    message = _visible_message(request, pk)
    if message.deleted_at is not None:  # a page left open on it: nothing to edit any more
        flash.error(request, _("This message was deleted."))
        return redirect(_in_conversation(request.user, message))
    services.message_check_editable(message=message, editor=request.user)
    form = EditForm(request.POST or None, initial={"content": message.content})
    if request.method == "POST" and form.is_valid():
        services.message_edit(
            message=message, editor=request.user, content=form.cleaned_data["content"]
        )
        flash.success(request, _("Message edited; its earlier version is kept."))
        return redirect(_in_conversation(request.user, message))
    context = {"form": form, "message": message, "back": _in_conversation(request.user, message)}
    return render(request, "messaging/edit.html", context)


@login_required
def delete(request, pk: int):
    """Delete one's message for everyone: a page asking first (without a script; chat.js
    asks with a dialog and posts here), then the conversation with its place marked."""
    message = _visible_message(request, pk)
    if message.sender_id != request.user.pk:
        raise PermissionDenied(_("Only the sender can delete a message."))
    if request.method == "POST":
        services.message_delete(message=message, deleter=request.user)
        if request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(status=204)
        flash.success(request, _("Message deleted for both of you."))
        return redirect(_in_conversation(request.user, message))
    context = {"message": message, "back": _in_conversation(request.user, message)}
    return render(request, "messaging/delete.html", context)


@login_required
@require_GET
@replica_reads
@throttle_page("search", methods=("GET",), when=lambda request: "q" in request.GET)
def search_messages(request):
    """Search the messages one sent or received: a page of highlighted results, each opening
    its conversation on it; the query's filters as chips to remove, and more to add."""
    text = request.GET.get("q", "").lstrip()  # a space after the last word: it is whole
    error, page = search.query_problem(text.strip()), None
    if not error:
        try:
            results = search.messages_search(request.user, text)
        except (search.SearchTooBroad, search.BadQuery) as refused:
            results, error = [], str(refused)
    if not error:
        page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
        prefetch_related_objects(page.object_list, "sender", "receiver")
        for message in page.object_list:
            message.highlight = mark_safe(search.highlight(message))  # escaped but the marks
            other = (
                message.receiver_id if message.sender_id == request.user.pk else message.sender_id
            )
            message.href = (
                f"{reverse('conversation', args=[other])}?"
                f"{urlencode({'around': message.pk, 'q': text})}#m{message.pk}"
            )
    # The pager's links keep the query.
    query = f"{urlencode({'q': text})}&" if text else ""
    context = {
        "q": request.GET.get("q", ""),
        "page": page,
        "error": error,
        "query": query,
        "chips": _search_chips(text),
        "people": search.people_named(request.user, text) if text and not error else [],
    }
    return render(request, "messaging/search.html", context, status=400 if error else 200)


def _search_chips(text: str) -> dict:
    """The query's filters, each with the search without it; and filters one may add."""

    def searching(q: str) -> str:
        return f"{reverse('search')}?{urlencode({'q': ' '.join(q.split())})}"

    active = [
        {"label": found.group(0), "href": searching(text[: found.start()] + text[found.end() :])}
        for found in search.FILTER.finditer(text)
    ]
    offered = [
        {"label": label, "filter": written, "href": searching(f"{text} {written}")}
        for written, label in (("is:unread", _("Unread")), ("has:attachment", _("With a file")))
        if written not in text.lower()
    ]
    return {"active": active, "offered": offered if text else []}


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
