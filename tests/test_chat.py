"""A conversation that works like a chat, in a real browser (Debian's Chromium through
Playwright), behind the platform's front, with its event stream and a real worker.

Headless Chromium reports every page visible, so "a tab nobody looks at" is a page without
the focus: the tests open another window and turn to it through the DevTools protocol,
with Playwright's focus emulation off, so document.hasFocus() is the browser's own
answer, not a stand-in.
"""

import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from config.settings import base as base_settings
from devtools.factories import MessageFactory, UserFactory
from messaging import services
from messaging.models import Message
from tests.browsing import LIVE_MS, log_in, screenshot
from tests.servers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.e2e]

PHONE, DESKTOP = (390, 844), (1280, 800)


@pytest.fixture
def base(module_platform, celery_worker, settings):
    # The servers check passwords with the platform's hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = base_settings.PASSWORD_HASHERS
    return module_platform


def chat(me, other, count: int, *, unread_from: int | None = None, start=None) -> list[Message]:
    """`count` short messages, alternating between two people a minute apart (the oldest
    first); those to `me` from index `unread_from` on are unread."""
    start = start or timezone.now() - timedelta(minutes=count + 5)
    messages = []
    for n in range(count):
        sender, receiver = (other, me) if n % 3 else (me, other)
        read = unread_from is None or n < unread_from or receiver != me
        messages.append(
            MessageFactory(
                sender=sender,
                receiver=receiver,
                content=f"short line {n}",
                timestamp=start + timedelta(minutes=n),
                read=read,
            )
        )
    return messages


def unfocus(page: Page, focused: bool = False) -> None:
    """Turn to another window of the browser (or back to the page's), as a person does."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    if focused:
        target = cdp.send("Target.getTargetInfo")["targetInfo"]["targetId"]
        cdp.send("Target.activateTarget", {"targetId": target})
    else:
        elsewhere = page.context.new_page()
        elsewhere_cdp = page.context.new_cdp_session(elsewhere)
        elsewhere_cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
        target = elsewhere_cdp.send("Target.getTargetInfo")["targetInfo"]["targetId"]
        elsewhere_cdp.send("Target.activateTarget", {"targetId": target})
    wait_for(lambda: page.evaluate("document.hasFocus()") == focused, timeout=5)


def top_of(page: Page, selector: str) -> float:
    return page.locator(selector).bounding_box()["y"]


def open_conversation(page: Page, base: str, other) -> None:
    page.goto(f"{base}/people/{other.pk}/")
    expect(page.locator("#composer-text")).to_be_visible()


# Whether a row shows whole between the window's top and the pinned composer.
IN_VIEW = """row => { const r = row.getBoundingClientRect();
                      const dock = document.querySelector('.dock').getBoundingClientRect();
                      return r.top >= 0 && r.bottom <= dock.top; }"""
# Whether at least half of a row shows there: what counts as seen (reading.js).
HALF_IN_VIEW = """row => { const r = row.getBoundingClientRect();
                      const dock = document.querySelector('.dock').getBoundingClientRect();
                      return Math.min(r.bottom, dock.top) - Math.max(r.top, 0) >= r.height / 2; }"""


def test_the_conversation_reads_down_sends_with_enter_and_replies_in_place(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    messages = chat(me, pal, 30)
    page = new_page(*PHONE)
    log_in(page, base, "reader")
    open_conversation(page, base, pal)

    # Oldest at the top, newest at the bottom, the view at the bottom.
    tops = [top_of(page, f"#m{m.pk}") for m in messages]
    assert tops == sorted(tops)
    expect(page.locator(f"#m{messages[-1].pk}")).to_be_in_viewport()
    # Compact: a burst of short messages fits on a phone's screen, ten and more.
    in_view = sum(page.locator(f"#m{m.pk}").evaluate(IN_VIEW) for m in messages)
    assert in_view >= 10, in_view
    # Grouped: one name over consecutive messages of one sender.
    expect(page.locator(f"#m{messages[2].pk}")).to_have_class(re.compile(r"\bcont\b"))
    expect(page.locator(f"#m{messages[3].pk}")).not_to_have_class(re.compile(r"\bcont\b"))

    url = page.url
    box = page.get_by_label("Message to pal")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    box.press("Enter")
    row = page.locator("li.msg.mine").last
    expect(row.locator(".content")).to_have_text("first line\nsecond line")
    expect(row).not_to_have_class(re.compile("unsent"))  # sent: the server's row
    expect(box).to_have_value("")
    assert page.url == url
    expect(row).to_be_in_viewport()
    sent = Message.objects.get(sender=me, content="first line\nsecond line")
    expect(row).to_have_id(f"m{sent.pk}")
    box.fill("with control")
    box.press("Control+Enter")
    expect(page.locator("li.msg.mine .content").last).to_have_text("with control")

    # A reply, from the conversation: the parent quoted above it; the quote jumps to it.
    asked = page.locator(f"#m{messages[1].pk}")
    asked.scroll_into_view_if_needed()
    asked.click()  # a tap shows the actions
    asked.get_by_role("link", name="Reply").click()
    expect(page.locator("#replying")).to_contain_text("short line 1")
    box.fill("answering line 1")
    page.keyboard.press("Enter")
    reply = page.locator("li.msg").filter(has_text="answering line 1")
    expect(reply.locator(".quote")).to_contain_text("short line 1")
    expect(page.locator("#replying")).to_be_hidden()
    assert Message.objects.get(content="answering line 1").parent_message_id == messages[1].pk
    reply.locator(".quote").click()
    expect(asked).to_be_in_viewport()
    expect(asked).to_be_focused()

    if os.environ.get("SCREENSHOTS_DIR"):  # the README's, at both sizes in both languages
        for language in ("en", "fr"):
            for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
                page.set_viewport_size(dict(zip(("width", "height"), size, strict=True)))
                page.goto(url)
                expect(page.locator("#composer-text")).to_be_visible()
                screenshot(page, f"conversation-{name}-{language}", full_page=False)
            if language == "en":
                page.get_by_role("button", name="Français").click()


def test_a_refused_send_keeps_its_text_and_retries(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    chat(me, pal, 3)
    page = new_page()
    log_in(page, base, "reader")
    open_conversation(page, base, pal)
    box = page.get_by_label("Message to pal")
    send_url = re.compile(r"/people/\d+/send/$")

    # Held by the test, the send shows as "Sending…" until the server answers.
    held = []
    page.route(send_url, lambda route: held.append(route))
    box.fill("on its way")
    box.press("Enter")
    sending = page.locator("li.msg.unsent").filter(has_text="on its way")
    expect(sending.locator(".status")).to_have_text("Sending…")
    expect(box).to_have_value("")
    held[0].continue_()
    page.unroute(send_url)
    expect(page.locator("li.msg:not(.unsent)").filter(has_text="on its way")).to_be_visible()
    expect(sending).to_have_count(0)

    page.route(
        send_url,
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "30"},
            json={"detail": "Too many messages; try again in 30 s."},
        ),
    )
    box.fill("refused once")
    box.press("Enter")
    failed = page.locator("li.msg.unsent").filter(has_text="refused once")
    expect(failed.locator(".status")).to_have_text(
        "Failed — Too many messages; retry in 30 s. Retry Discard"
    )
    page.unroute(send_url)
    page.route(send_url, lambda route: route.fulfill(status=500, body="boom"))
    box.fill("refused twice")
    box.press("Enter")
    expect(page.locator("li.msg.unsent").filter(has_text="refused twice")).to_contain_text(
        "Failed — HTTP 500"
    )
    page.unroute(send_url)
    page.route(send_url, lambda route: route.abort())
    failed.get_by_role("button", name="Retry").click()
    expect(failed).to_contain_text("Failed — Not sent: no connection.")
    assert not Message.objects.filter(sender=me, content__startswith="refused").exists()

    # Neither is lost across a reload; a draft being typed is not either.
    box.fill("a draft, half typed")
    page.unroute(send_url)
    page.reload()
    expect(page.locator("li.msg.unsent")).to_have_count(2)
    expect(page.get_by_label("Message to pal")).to_have_value("a draft, half typed")
    page.locator("li.msg.unsent").filter(has_text="refused once").get_by_role(
        "button", name="Retry"
    ).click()
    expect(page.locator("li.msg:not(.unsent)").filter(has_text="refused once")).to_be_visible()
    page.locator("li.msg.unsent").get_by_role("button", name="Discard").click()
    expect(page.locator("li.msg.unsent")).to_have_count(0)
    assert list(
        Message.objects.filter(sender=me, content__startswith="refused").values_list(
            "content", flat=True
        )
    ) == ["refused once"]

    # Leaving with a draft asks first.
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()


def test_unread_opens_at_the_divider_and_is_read_only_once_seen(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    messages = chat(me, pal, 60, unread_from=20)
    unread = [m for m in messages if not m.read]
    page = new_page(*PHONE)
    log_in(page, base, "reader")
    expect(page).to_have_title(re.compile(rf"^\({len(unread)}\) "))
    expect(page.locator("#favicon")).to_have_attribute("href", re.compile("favicon-unread"))
    open_conversation(page, base, pal)

    # It opens at the divider, above the first unread; what is on screen is read, and only
    # that.
    divider = page.locator("#unread-divider")
    expect(divider).to_have_text("New messages")
    expect(divider).to_be_in_viewport()
    assert top_of(page, "#unread-divider") < top_of(page, f"#m{unread[0].pk}")
    on_screen = [m.pk for m in unread if page.locator(f"#m{m.pk}").evaluate(HALF_IN_VIEW)]
    assert on_screen
    assert len(on_screen) < len(unread)
    wait_for(lambda: Message.objects.filter(pk__in=on_screen, read=False).count() == 0)
    left = Message.objects.filter(receiver=me, read=False).count()
    assert left == len(unread) - len(on_screen)
    expect(page).to_have_title(re.compile(rf"^\({left}\) "))

    # Scrolling down reads the rest; the count and the dot go.
    for message in unread:
        page.locator(f"#m{message.pk}").scroll_into_view_if_needed()
    wait_for(lambda: not Message.objects.filter(receiver=me, read=False).exists())
    expect(page).not_to_have_title(re.compile(r"^\("))
    expect(page.locator("#favicon")).to_have_attribute("href", re.compile(r"/favicon\.svg"))
    expect(page.locator("#badge-messages")).to_be_hidden()


def test_what_arrives_while_nobody_looks_stays_unread_until_seen(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    chat(me, pal, 10)
    page = new_page(*PHONE)
    log_in(page, base, "reader")
    open_conversation(page, base, pal)
    unfocus(page)

    arrived = [
        services.message_send(sender=pal, receiver=me, content=f"while away {n}")
        for n in range(40)  # more than a phone's screen holds
    ]
    expect(page.locator(f"#m{arrived[-1].pk}")).to_be_in_viewport(timeout=LIVE_MS)
    expect(page).to_have_title(re.compile(r"^\(40\) "))
    assert Message.objects.filter(receiver=me, read=False).count() == 40  # on screen, unseen
    divider = page.locator("#unread-divider")
    assert top_of(page, "#unread-divider") < top_of(page, f"#m{arrived[0].pk}")

    # Back to the tab: what is on screen now is read; the rest once scrolled to.
    unfocus(page, focused=True)
    on_screen = [m.pk for m in arrived if page.locator(f"#m{m.pk}").evaluate(HALF_IN_VIEW)]
    wait_for(lambda: Message.objects.filter(pk__in=on_screen, read=False).count() == 0)
    left = set(Message.objects.filter(receiver=me, read=False).values_list("pk", flat=True))
    assert left == {m.pk for m in arrived} - set(on_screen)
    assert left  # the rest is further up
    expect(page).to_have_title(re.compile(rf"^\({len(left)}\) "))
    divider.scroll_into_view_if_needed()
    for message in arrived:
        page.locator(f"#m{message.pk}").scroll_into_view_if_needed()
    wait_for(lambda: not Message.objects.filter(receiver=me, read=False).exists())


def test_the_first_unread_in_an_older_part_is_one_jump_away(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    messages = chat(me, pal, 260, unread_from=10)
    first_unread = next(m for m in messages if not m.read)
    page = new_page()
    log_in(page, base, "reader")
    open_conversation(page, base, pal)
    expect(page.locator(f"#m{first_unread.pk}")).to_have_count(0)  # not in the first part
    page.get_by_role("button", name="↑ First unread").click()
    expect(page.locator("#unread-divider")).to_be_in_viewport()
    assert top_of(page, "#unread-divider") < top_of(page, f"#m{first_unread.pk}")


def test_arrivals_do_not_move_what_one_reads(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    messages = chat(me, pal, 40)
    page = new_page(*PHONE)
    log_in(page, base, "reader")
    open_conversation(page, base, pal)
    reading = page.locator(f"#m{messages[20].pk}")
    reading.scroll_into_view_if_needed()
    before = top_of(page, f"#m{messages[20].pk}")

    for text in ("arrived one", "arrived two"):
        services.message_send(sender=pal, receiver=me, content=text)
    pill = page.get_by_role("button", name="2 new messages ↓")
    expect(pill).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("li.msg").filter(has_text="arrived two")).to_have_count(1)
    assert top_of(page, f"#m{messages[20].pk}") == before
    # Not on screen, not read: the tab's title counts them, live.
    expect(page).to_have_title(re.compile(r"^\(2\) "))
    assert Message.objects.filter(receiver=me, read=False).count() == 2

    pill.click()
    expect(page.locator("li.msg").filter(has_text="arrived two")).to_be_in_viewport()
    expect(pill).to_be_hidden()
    wait_for(lambda: not Message.objects.filter(receiver=me, read=False).exists())
    expect(page).not_to_have_title(re.compile(r"^\("))

    # At the bottom, an arrival shows at once.
    services.message_send(sender=pal, receiver=me, content="arrived three")
    expect(page.locator("li.msg").filter(has_text="arrived three")).to_be_in_viewport(
        timeout=LIVE_MS
    )


def test_times_show_in_the_readers_zone_and_language(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    # 07:30 UTC on the 15th is 23:30 on the 14th in Los Angeles.
    old = MessageFactory(
        sender=pal, receiver=me, content="old", timestamp=datetime(2025, 1, 15, 7, 30, tzinfo=UTC)
    )
    now = MessageFactory(sender=pal, receiver=me, content="just now")
    languages = [
        ("en-US", "Tuesday, January 14, 2025 at 11:30 PM", "Jan 14, 2025", "Now", "Yesterday"),
        ("fr-FR", "mardi 14 janvier 2025 à 23:30", "14 janv. 2025", "Maintenant", "Hier"),
    ]
    for locale, full, short, just_now, yesterday in languages:
        page = new_page(locale=locale, timezone_id="America/Los_Angeles")
        log_in(page, base, "reader")
        open_conversation(page, base, pal)
        stamp = page.locator(f"#m{old.pk} time")
        expect(stamp).to_have_attribute("title", full)
        expect(stamp.locator(".when")).to_have_text(short)
        expect(stamp.locator(".visually-hidden")).to_have_text(full)
        expect(page.locator(f"#m{now.pk} time .when")).to_have_text(just_now)
        # Yesterday evening in Los Angeles, wherever the server is.
        evening = page.evaluate(
            """() => { const d = new Date(); d.setDate(d.getDate() - 1); d.setHours(20, 5, 0, 0);
                       return d.toISOString(); }"""
        )
        message = MessageFactory(sender=me, receiver=pal, content="evening", timestamp=evening)
        page.reload()
        clock = "8:05 PM" if locale == "en-US" else "20:05"
        expect(page.locator(f"#m{message.pk} time .when")).to_have_text(f"{yesterday} {clock}")
        message.delete()


RECORD_NOTIFICATIONS = """
  // The real Notification, with what the page asks of it kept for the test to read.
  const Real = window.Notification;
  window.shown = [];
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.shown.push(this); }
  };
"""


def test_a_notification_names_the_sender_only_while_nobody_looks(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=base)
    page.context.add_init_script(RECORD_NOTIFICATIONS)
    log_in(page, base, "reader")
    # Turned on in the settings (the browser's permission asked on that click: granted).
    page.goto(f"{base}/settings/")
    page.get_by_label("Show a browser notification when a message arrives").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Show a browser notification when a message arrives")).to_be_checked()
    page.goto(f"{base}/")

    services.message_send(sender=pal, receiver=me, content="while you look")
    expect(page.locator("#badge-messages")).to_have_text("1", timeout=LIVE_MS)
    unfocus(page)
    message = services.message_send(sender=pal, receiver=me, content="while you are away")
    expect(page.locator("#badge-messages")).to_have_text("2", timeout=LIVE_MS)
    shown = page.evaluate("window.shown.map(n => [n.title, n.body, n.tag])")
    assert shown == [["pal", "while you are away", f"message-{message.pk}"]]

    page.evaluate("window.shown[0].dispatchEvent(new Event('click'))")
    expect(page).to_have_url(re.compile(rf"/people/{pal.pk}/#m{message.pk}$"))
    expect(page.locator(f"#m{message.pk}")).to_be_visible()


def test_a_broken_stream_says_reconnecting_and_comes_back_at_once(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    page = new_page()
    log_in(page, base, "reader")
    banner = page.locator("#connection")
    services.message_send(sender=pal, receiver=me, content="the stream works")
    expect(page.locator("#badge-messages")).to_have_text("1", timeout=LIVE_MS)
    expect(banner).to_be_hidden()

    page.route(re.compile(r"/events/"), lambda route: route.abort())
    page.context.set_offline(True)
    expect(banner).to_have_text("Reconnecting…")
    page.context.set_offline(False)  # back online, but the stream is refused still
    expect(banner).to_have_text("Reconnecting…")
    page.unroute(re.compile(r"/events/"))
    expect(banner).to_have_text("Back online", timeout=10_000)
    expect(banner).to_be_hidden(timeout=10_000)


def test_a_new_conversation_finds_people_and_keeps_its_draft(base, new_page):
    UserFactory(username="reader")
    palmer = UserFactory(username="palmer")
    UserFactory(username="staffer", is_staff=True)
    page = new_page()
    log_in(page, base, "reader")
    page.goto(f"{base}/compose/")
    expect(page.get_by_role("heading", name="New conversation")).to_be_visible()
    page.get_by_label("To").type("palm")
    expect(page.locator("#people option")).to_have_count(1)
    expect(page.locator("#people option")).to_have_attribute("value", "palmer")
    page.get_by_label("To").fill("palmer")
    page.get_by_label("Message", exact=True).fill("Hello Palmer, a long first message")
    page.reload()
    expect(page.get_by_label("To")).to_have_value("palmer")
    expect(page.get_by_label("Message", exact=True)).to_have_value(
        "Hello Palmer, a long first message"
    )
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Message sent to palmer.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/people/{palmer.pk}/#m\d+$"))
    # The conversation's script, once it has seen the page say "sent", drops the draft.
    page.wait_for_function("() => !Object.keys(localStorage).some(key => key.startsWith('draft:'))")
    page.goto(f"{base}/compose/")
    expect(page.get_by_label("Message", exact=True)).to_have_value("")

    # Signing out (past the warning about the unsent draft) leaves no draft behind.
    page.get_by_label("Message", exact=True).fill("not for the next person")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form.logout button").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    drafts = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('draft:'))")
    assert drafts == []
