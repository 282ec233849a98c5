"""Real browser, live server, real worker: what a person sees.

Debian's Chromium (/usr/bin/chromium) driven by Playwright; no browser is downloaded.
Set SCREENSHOTS_DIR to keep screenshots of the inbox and thread pages (docs/screenshots).
"""

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from celery_app import app
from devtools.factories import PASSWORD, UserFactory, maintenance_runs
from jobs.models import JobRun
from jobs.schedules import setup_schedules
from messaging import services
from messaging.models import Message, Notification
from tests.browsing import LIVE_MS, log_in, screenshot, serious_violations, sign_up
from tests.servers import RedisServer, Worker, start_asgi_server, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.e2e]


def test_two_people_exchange_reply_and_edit_live(platform_url, new_page):
    base = platform_url
    alice, bob = new_page(), new_page()
    sign_up(alice, base, "alice")
    sign_up(bob, base, "bob")
    bob_badge = bob.locator("#badge-messages")
    expect(bob_badge).to_be_hidden()

    alice.goto(f"{base}/compose/")
    alice.get_by_label("To").fill("bob")
    alice.get_by_label("Message", exact=True).fill("Hi Bob, lunch at noon?")
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_text("Message sent to bob.")).to_be_visible()

    # Bob's open inbox shows it, and his badges move, without a reload.
    expect(bob.locator("#live-list").get_by_text("lunch at noon?")).to_be_visible(timeout=LIVE_MS)
    expect(bob_badge).to_have_text("1", timeout=LIVE_MS)
    expect(bob).to_have_title(re.compile(r"^\(1\) "), timeout=LIVE_MS)
    expect(bob.locator("#live-announcer")).to_have_text("New message from alice")
    screenshot(bob, "inbox")

    bob.get_by_role("link", name=re.compile("lunch at noon")).click()
    expect(bob_badge).to_be_hidden()  # on screen in a focused tab: read
    bob.locator("li.msg").first.hover()
    bob.get_by_role("link", name="Reply", exact=True).click()
    bob.get_by_label("Message to alice").fill("Noon works.")
    bob.keyboard.press("Enter")
    expect(bob.locator("li.msg:not(.unsent)").get_by_text("Noon works.")).to_be_visible()

    # Alice's open conversation shows Bob's reply below hers, quoting it.
    reply = alice.locator("li.msg").filter(has_text="Noon works.")
    expect(reply).to_be_visible(timeout=LIVE_MS)
    expect(reply.locator(".quote")).to_contain_text("Hi Bob, lunch at noon?")
    # Alice's edit replaces the text on Bob's open page, with the earlier version kept.
    alice.locator("li.msg.mine").first.hover()
    alice.get_by_role("link", name="Edit").first.click()
    alice.get_by_label("Message", exact=True).fill("Hi Bob, lunch at one?")
    alice.get_by_role("button", name="Save").click()
    expect(alice.locator("li.msg .content").get_by_text("Hi Bob, lunch at one?")).to_be_visible()
    expect(bob.locator("li.msg .content").get_by_text("Hi Bob, lunch at one?")).to_be_visible(
        timeout=LIVE_MS
    )
    expect(bob.locator("li.msg .quote")).to_contain_text("Hi Bob, lunch at one?")  # re-quoted
    bob.get_by_text("edited", exact=True).click()
    expect(bob.locator(".history .old")).to_have_text("Hi Bob, lunch at noon?")
    screenshot(bob, "thread")


def test_the_switch_turns_the_pages_french_and_live_news_comes_in_french(platform_url, new_page):
    base = platform_url
    alice, bob = new_page(), new_page()
    sign_up(alice, base, "alice")
    sign_up(bob, base, "bob")
    bob.get_by_role("button", name="Français").click()
    expect(bob.get_by_role("heading", name="Boîte de réception")).to_be_visible()
    expect(bob.locator("html")).to_have_attribute("lang", "fr")
    expect(bob.get_by_role("button", name="English")).to_have_attribute("lang", "en")

    alice.goto(f"{base}/compose/")
    alice.get_by_label("To").fill("bob")
    alice.get_by_label("Message", exact=True).fill("Bonjour Bob")
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_text("Message sent to bob.")).to_be_visible()  # hers stays English

    badge = bob.locator("#badge-messages")
    expect(badge).to_have_text("1", timeout=LIVE_MS)
    expect(badge).to_have_attribute("aria-label", "1 message non lu")
    expect(bob.locator("#live-announcer")).to_have_text("Nouveau message de alice")
    expect(bob.locator("#live-list").get_by_text("1 nouveau")).to_be_visible()
    bob.reload()  # the choice is kept
    expect(bob.get_by_role("heading", name="Boîte de réception")).to_be_visible()


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz?only=cache,broker", timeout=2):
            return True
    except urllib.error.URLError:
        return False


def test_after_a_redis_restart_the_open_page_shows_what_was_sent_meanwhile(tmp_path, new_page):
    server = RedisServer(tmp_path)
    server.start()
    env = {"REDIS_URL": server.url(0), "REDIS_CACHE_URL": server.url(1)}
    worker = Worker(tmp_path / "worker.log", **env).start()
    process, base = start_asgi_server(tmp_path / "uvicorn.log", **env)
    try:
        alice, bob = new_page(), new_page()
        sign_up(alice, base, "alice")
        sign_up(bob, base, "bob")

        def send(text: str) -> None:
            alice.goto(f"{base}/compose/")
            alice.get_by_label("To").fill("bob")
            alice.get_by_label("Message", exact=True).fill(text)
            alice.get_by_role("button", name="Send").click()
            expect(alice.get_by_text("Message sent to bob.")).to_be_visible()

        messages = bob.locator("#live-list")
        send("Before the outage")
        expect(messages.get_by_text("Before the outage")).to_be_visible(timeout=LIVE_MS)

        server.stop()
        send("During the outage")  # saved; its effects wait in the outbox
        server.start()
        # Bob's page is back on its stream and shows what it missed, without a reload.
        expect(messages.get_by_text("During the outage")).to_be_visible(timeout=30_000)
        expect(bob.locator("#badge-messages")).to_have_text("2")
        # Once the web process trusts Redis again (it skips a failed server for a while),
        # events flow as before.
        wait_for(lambda: healthy(base), timeout=30, interval=0.5)
        send("After the outage")
        expect(messages.get_by_text("After the outage")).to_be_visible(timeout=30_000)
        # Nothing was lost: the notification of the message sent during the outage too.
        wait_for(lambda: Notification.objects.filter(user__username="bob").count() == 3)
    finally:
        stop(process)
        worker.stop()
        server.stop()


def test_marking_read_clears_the_badge(live_server, new_page):
    reader, writer = UserFactory(username="reader"), UserFactory()
    for n in range(3):
        services.message_send(sender=writer, receiver=reader, content=f"note {n}")
    page = new_page()
    log_in(page, live_server.url, "reader")
    badge = page.locator("#badge-messages")
    expect(badge).to_have_text("3")
    page.get_by_role("button", name="Mark all as read").click()
    expect(badge).to_be_hidden()
    expect(page.get_by_text("3 messages marked as read.")).to_be_visible()


def test_the_search_box_finds_highlights_and_opens_the_conversation(live_server, new_page):
    searcher, friend = UserFactory(username="searcher"), UserFactory(username="friend")
    wanted = services.message_send(
        sender=friend, receiver=searcher, content="the ferry leaves at <b>nine</b>"
    )
    services.message_send(sender=friend, receiver=searcher, content="unrelated")
    services.message_send(sender=friend, receiver=UserFactory(), content="a ferry for others")
    page = new_page()
    log_in(page, live_server.url, "searcher")
    box = page.get_by_role("searchbox", name="Search your messages")
    box.fill("ferry")
    box.press("Enter")
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.get_by_text("1 message matches “ferry”, best match first.")).to_be_visible()
    expect(page.locator(".results mark")).to_have_text("ferry")
    expect(page.locator(".results .preview")).to_have_text("the ferry leaves at <b>nine</b>")
    expect(box).to_have_value("ferry")  # the query stays in the box
    page.locator(".results a").click()
    expect(page.locator(f"#m{wanted.pk}")).to_be_visible()

    box = page.get_by_role("searchbox", name="Search your messages")
    box.fill("walrus")
    box.press("Enter")
    expect(page.get_by_text("No messages match “walrus”.")).to_be_visible()


def test_another_pairs_thread_is_not_found(live_server, new_page):
    UserFactory(username="nosy")
    strangers = services.message_send(
        sender=UserFactory(), receiver=UserFactory(), content="private"
    )
    page = new_page()
    log_in(page, live_server.url, "nosy")
    response = page.goto(f"{live_server.url}/messages/{strangers.pk}/")
    assert response.status == 404
    expect(page.get_by_text("private")).to_have_count(0)
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_deleted_account_cannot_log_in_and_its_messages_go(celery_worker, live_server, new_page):
    leaving, staying = UserFactory(username="leaving"), UserFactory(username="staying")
    services.message_send(sender=leaving, receiver=staying, content="goodbye soon")
    base = live_server.url
    page, other = new_page(), new_page()
    log_in(other, base, "staying")
    expect(other.get_by_text("goodbye soon")).to_be_visible()

    log_in(page, base, "leaving")
    page.goto(f"{base}/account/delete/")
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account is deleted.")).to_be_visible()

    log_in(page, base, "leaving", refused=True)
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()

    def gone_from_the_other_inbox():
        other.reload()
        return other.get_by_text("goodbye soon").count() == 0

    wait_for(gone_from_the_other_inbox, timeout=20, interval=0.5)
    assert not Message.objects.filter(sender=leaving).exists()


def test_ops_see_each_jobs_recent_runs_and_the_queues(
    celery_worker, live_server, new_page, settings
):
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    setup_schedules()
    history = ["succeeded"] * 12 + ["failed"] + ["succeeded"] * 8 + ["skipped"] + ["succeeded"] * 8
    maintenance_runs("archive_old_records", history)
    maintenance_runs("cleanup_temporary_files", ["succeeded"] * 20)
    page = new_page()
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/jobs/jobrun/jobs/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Scheduled jobs")).to_be_visible()
    archive = page.get_by_role("row").filter(has_text="archive old messages")
    chart = archive.get_by_role("img")
    expect(chart).to_have_attribute("aria-label", re.compile("^30 runs: 1 failed, 1 skipped"))
    expect(chart.locator("rect")).to_have_count(30)
    expect(page.locator("#queue-status")).to_contain_text("maintenance")
    expect(page.locator("#queue-status")).to_contain_text(re.compile(r"[1-9]\d* live"))
    expect(archive).to_contain_text("Every day at")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "jobs")

    # "Run now": the page refreshes itself until the run has ended, without a reload. The
    # worker stops taking the maintenance queue meanwhile, so the run waits to be seen.
    (settings.MEDIA_ROOT / "tmp").mkdir(exist_ok=True)  # the cleanup's directory
    cleanup = page.get_by_role("row").filter(has_text="clean temporary files")
    app.control.cancel_consumer("maintenance", reply=True)
    try:
        cleanup.get_by_role("button", name="Run now").click()
        expect(page.locator("#watching")).to_contain_text("refreshes itself")
        page.evaluate("window.notReloaded = true")  # the redirect after the post was a load
        expect(cleanup.get_by_role("img").locator("rect")).to_have_count(20)  # not run yet
    finally:
        app.control.add_consumer("maintenance", reply=True)
    expect(page.locator("#watching")).to_contain_text("The run has ended", timeout=60_000)
    expect(cleanup.get_by_role("img").locator("rect")).to_have_count(21)
    expect(cleanup).to_contain_text(re.compile(r"Succeeded in \d+ ms"))
    assert page.evaluate("window.notReloaded") is True
    assert "watch=" not in page.url
    assert violations == []


def test_pages_work_under_the_content_security_policy_and_injected_scripts_do_not_run(
    live_server, new_page
):
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    writer = UserFactory()
    message = services.message_send(
        sender=writer,
        receiver=UserFactory(username="reader"),
        content="<script>window.injected = 1</script>",
    )
    services.message_send(
        sender=writer, receiver=message.receiver, content="re", parent_message=message
    )
    page = new_page()
    violations = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and violations.append((page.url, m.text)),
    )
    base = live_server.url
    log_in(page, base, "reader")
    pages = ["/", f"/messages/{message.pk}/", f"/people/{writer.pk}/", "/compose/"]
    for path in [*pages, "/notifications/", "/api/docs/"]:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui .info")).to_be_visible()  # Swagger UI ran from static files
    assert violations == []

    page.goto(f"{base}/messages/{message.pk}/")
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.injected = 2"; document.body.appendChild(s); }"""
    )
    assert page.evaluate("window.injected") is None
    assert any("script-src" in text for _, text in violations)


def test_the_runs_list_fits_a_1280_pixel_screen(live_server, new_page):
    UserFactory(username="ops", is_staff=True, is_superuser=True)
    maintenance_runs("archive_old_records", ["succeeded", "failed", "skipped"] * 5)
    JobRun.objects.create(
        task="cleanup_temporary_files",
        status="failed",
        counts={"files_deleted": 123456, "bytes_freed": 987654321, "dirs_removed": 42, "errors": 7},
        error="Traceback\nCleanupRefused: /very/long/path/"
        + "segment/" * 30
        + " is not a directory",
    )
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/jobs/jobrun/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list .outcome-failed").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"123,456 files deleted, 941.9\sMB freed"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


# Issue 19: a phone 390 pixels wide and a desktop.
PHONE, DESKTOP = (390, 844), (1280, 800)

# Every control a finger or a pointer aims at, visible, outside running text.
TARGETS = """() => [...document.querySelectorAll(
    'header a, header button, header input, main a, main button, main input, main summary,'
    + ' main textarea, footer a')]
  .filter(e => e.offsetParent !== null && !e.closest('p'))  // links in running text are exempt
  .map(e => e.closest('label') || e)  // a box or a radio is aimed at through its label
  .map(e => { const r = e.getBoundingClientRect();
              return {what: e.outerHTML.slice(0, 80), width: r.width, height: r.height}; })
  .filter(t => t.width < 44 || t.height < 44)"""
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


def check_layout(page: Page, path: str) -> None:
    assert page.evaluate(SIDEWAYS) <= 0, f"{path} scrolls sideways"
    small = page.evaluate(TARGETS)
    assert small == [], f"{path}: targets under 44 px: {small}"
    header = page.locator("header.top").bounding_box()
    assert header["height"] < 70, f"{path}: the header takes more than one line"


ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/signup/"]


@pytest.fixture
def every_page(db) -> list[str]:
    """Each page a signed-in person sees, with data on it (a thread with a reply and an edit,
    a second page of messages and notifications), for "pocket" (password PASSWORD)."""
    me, friend = UserFactory(username="pocket"), UserFactory(username="friend")
    message = services.message_send(
        sender=friend, receiver=me, content="a-long-word-" * 12 + " and a reply below"
    )
    mine = services.message_send(
        sender=me, receiver=friend, content="first", parent_message=message
    )
    services.message_edit(message=mine, editor=me, content="first, edited")
    for n in range(25):  # a second page: the pager's links
        note = services.message_send(sender=friend, receiver=me, content=f"note {n}")
        services.notifications_create(message_ids=[note.pk])  # whether a worker runs or not
    # More conversations, the newest one's last message being mine.
    ana, marc = UserFactory(username="ana"), UserFactory(username="marc")
    asked = services.message_send(sender=ana, receiver=me, content="Are the slides ready?")
    services.message_send(
        sender=me, receiver=ana, content="Yes, sent them this morning.", parent_message=asked
    )
    services.message_send(sender=marc, receiver=me, content="Train at 8:15 tomorrow.")
    return [
        "/",
        "/sent/",
        f"/messages/{message.pk}/",
        "/compose/",
        f"/messages/{mine.pk}/edit/",
        "/notifications/",
        "/search/?q=note",
        "/search/?q=nothing",
        "/account/delete/",
        "/settings/",
        "/accounts/password_change/",
        f"/messages/{mine.pk}/delete/",
        f"/people/{friend.pk}/",
        f"/people/{ana.pk}/",
    ]


def visit_every_page(page: Page, base: str, every_page: list[str]):
    """Open each page in turn (the anonymous ones, then signed in), yielding its path."""
    for path in ANONYMOUS_PAGES:
        page.goto(base + path)
        yield path
    log_in(page, base, "pocket")
    for path in every_page:
        page.goto(base + path)
        yield path


# French words are longer: each page is checked in both languages.
LOCALES = pytest.mark.parametrize("locale", ["en-US", "fr-FR"], ids=["en", "fr"])


@LOCALES
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_the_screen_and_passes_axe(live_server, new_page, every_page, size, locale):
    """Each page: no sideways scroll, targets of 44 px, a one-line header, and no serious or
    critical axe-core violation; then the phone menu, a reply form and a conversation's
    reply open."""
    page = new_page(*size, locale=locale)
    for path in visit_every_page(page, live_server.url, every_page):
        check_layout(page, path)
        assert serious_violations(page) == [], path
    page.goto(live_server.url + "/")
    more, menu = page.locator('#more-menu a[href="/compose/"]'), page.locator(".menu-toggle")
    if size == PHONE:  # the menu opens below the one-line header, and closes with Escape
        expect(more).to_be_hidden()
        menu.click()
        expect(more).to_be_visible()
        check_layout(page, "/ with the menu open")
        assert serious_violations(page) == [], "the open menu"
        page.keyboard.press("Escape")
        expect(more).to_be_hidden()
        expect(menu).to_be_focused()
    else:
        expect(menu).to_be_hidden()
        expect(more).to_be_visible()
    if locale == "en-US":
        screenshot(page, f"inbox-{'phone' if size == PHONE else 'desktop'}")
    page.goto(live_server.url + every_page[2])
    page.locator("details.reply summary").first.click()  # an open reply form
    assert serious_violations(page) == [], "a thread with a reply form open"
    page.goto(live_server.url + every_page[-2])
    page.locator("li.msg").last.click()  # a tap shows the message's actions
    page.locator("li.msg").last.get_by_role("link", name=re.compile("Reply|Répondre")).click()
    expect(page.locator("#replying")).to_be_visible()
    check_layout(page, "a conversation, replying to a message")
    assert serious_violations(page) == [], "a conversation, replying to a message"


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} never got the focus with Tab")


def test_compose_and_reply_with_the_keyboard_alone(live_server, new_page):
    UserFactory(username="keys")
    pal = UserFactory(username="pal")
    page = new_page()
    log_in(page, live_server.url, "keys")
    # Write from the header: Tab to the link, Enter, then fill the form field by field.
    tab_to(page, "a[href='/compose/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New conversation")).to_be_visible()
    tab_to(page, "input[name=receiver]")
    page.keyboard.type("pal")
    page.keyboard.press("Tab")
    page.keyboard.type("Typed without a mouse")
    tab_to(page, "button[type=submit]:not(.secondary):not(.link)")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Message sent to pal.")).to_be_visible()
    sent = Message.objects.get(sender__username="keys")
    assert sent.receiver == pal

    # Reply from the conversation: Tab to the message's Reply, Enter, type, Enter sends.
    tab_to(page, f"#m{sent.pk} a.reply-to")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.type("And a reply, still no mouse")
    page.keyboard.press("Enter")
    expect(page.locator("li.msg:not(.unsent)").get_by_text("And a reply")).to_be_visible()
    assert Message.objects.filter(parent_message=sent, content__startswith="And a reply").exists()


def test_a_refresh_of_the_open_conversation_keeps_the_keyboard_focus(live_server, new_page):
    # Under the test server (WSGI) the stream is refused, so the page refreshes its
    # conversation now and then; each refresh replaces the buttons under the focus.
    me = UserFactory(username="focus")
    message = services.message_send(
        sender=UserFactory(username="pal"), receiver=me, content="Hello"
    )
    page = new_page()
    log_in(page, live_server.url, "focus")
    page.goto(f"{live_server.url}/messages/{message.pk}/")
    tab_to(page, f"#m{message.pk} summary")
    page.keyboard.press("Enter")
    send_reply = f"#m{message.pk} button[type=submit]"
    tab_to(page, send_reply)
    focused = page.evaluate_handle("document.activeElement")
    page.wait_for_function("button => !button.isConnected", arg=focused, timeout=15_000)
    assert page.evaluate(f"document.activeElement.matches({send_reply!r})")
