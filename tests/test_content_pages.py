"""Messages as content, and the settings, in a real browser (Debian's Chromium through
Playwright) behind the platform's front, with its event stream and a real worker: links,
delete for everyone seen live, the settings page (zone, language, dark theme)."""

import base64
import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Preferences
from config.settings import base as base_settings
from devtools.factories import UserFactory
from messaging import services
from messaging.models import Message
from tests.browsing import LIVE_MS, log_in, screenshot, serious_violations

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def base(module_platform, celery_worker, settings):
    # The servers check passwords with the platform's hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = base_settings.PASSWORD_HASHERS
    return module_platform


def test_links_open_apart_and_a_javascript_link_is_text(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    message = services.message_send(
        sender=pal,
        receiver=me,
        content="see https://example.org/page, then `code <b>` and javascript:alert(1)"
        " or [x](javascript:alert(2))\nnext line",
    )
    page = new_page()
    page.context.route("https://example.org/**", lambda route: route.fulfill(body="elsewhere"))
    log_in(page, base, "reader")
    page.goto(f"{base}/people/{pal.pk}/")
    content = page.locator(f"#m{message.pk} .content")
    link = content.get_by_role("link", name="https://example.org/page")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow ugc")
    expect(content.locator("code")).to_have_text("code <b>")
    expect(content.locator("a")).to_have_count(1)  # the javascript: ones are text
    expect(content).to_contain_text("javascript:alert(1)")
    expect(content.locator("br")).to_have_count(1)

    with page.context.expect_page() as opened:
        link.click()
    elsewhere = opened.value
    expect(elsewhere.locator("body")).to_have_text("elsewhere")
    assert elsewhere.evaluate("window.opener") is None  # the target cannot reach the page


def test_a_message_deleted_for_everyone_goes_live_from_the_other_page(base, new_page):
    me, pal = UserFactory(username="writer"), UserFactory(username="pal")
    question = services.message_send(sender=me, receiver=pal, content="a secret question")
    answer = services.message_send(
        sender=pal, receiver=me, content="its answer", parent_message=question
    )
    mine, theirs = new_page(), new_page()
    log_in(mine, base, "writer")
    log_in(theirs, base, "pal")
    mine.goto(f"{base}/people/{pal.pk}/")
    theirs.goto(f"{base}/people/{me.pk}/")
    expect(theirs.locator(f"#m{question.pk} .content")).to_have_text("a secret question")

    row = mine.locator(f"#m{question.pk}")
    row.click()  # shows its actions
    mine.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("link", name="Delete").click()

    for page in (mine, theirs):
        expect(page.locator(f"#m{question.pk} .content")).to_have_text(
            "Message deleted", timeout=LIVE_MS
        )
        expect(page.locator(f"#m{answer.pk} .quote")).to_contain_text("Message deleted")
        expect(page.locator(f"#m{answer.pk} .content")).to_have_text("its answer")
    expect(theirs.get_by_text("a secret question")).to_have_count(0)
    assert Message.objects.get(pk=question.pk).content == ""


def test_the_settings_change_zone_language_and_theme(base, new_page):
    me, pal = UserFactory(username="reader"), UserFactory(username="pal")
    message = services.message_send(sender=pal, receiver=me, content="what time is it?")
    page = new_page(1280, 800, timezone_id="Asia/Tokyo")
    log_in(page, base, "reader")
    page.goto(f"{base}/settings/")
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("Asia/Tokyo")  # none saved: this browser's
    expect(page.get_by_text("This browser\u2019s zone is Asia/Tokyo.")).to_be_visible()
    zone.select_option("America/New_York")
    page.get_by_label("Language").select_option("fr")
    page.get_by_label("Dark").check()
    page.get_by_role("button", name="Save settings").click()

    expect(page.get_by_role("heading", name="Réglages")).to_be_visible()
    expect(page.get_by_text("Réglages enregistrés.")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 27)", background
    assert serious_violations(page) == []
    screenshot(page, "settings-dark", full_page=False)
    stored = Preferences.objects.get(user=me)
    assert (stored.time_zone, stored.language, stored.theme) == ("America/New_York", "fr", "dark")

    page.goto(f"{base}/people/{pal.pk}/")
    expect(page.get_by_role("heading", name="Conversation avec pal")).to_be_visible()
    time = page.locator(f"#m{message.pk} time")
    sent = message.timestamp.astimezone(ZoneInfo("America/New_York"))
    expect(time).to_have_attribute("title", re.compile(rf"\b0?{sent.hour}:{sent.minute:02d}\b"))
    assert serious_violations(page) == []


def test_the_system_theme_follows_the_device(base, new_page):
    UserFactory(username="reader")
    page = new_page(color_scheme="dark")
    log_in(page, base, "reader")
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 27)", background
    assert serious_violations(page) == []


def test_search_forgives_accents_finds_prefixes_japanese_and_filters(base, new_page):
    me, noah = UserFactory(username="reader"), UserFactory(username="noah")
    old = timezone.now() - timedelta(days=60)
    reunion = services.message_send(sender=noah, receiver=me, content="La Réunion de lundi")
    Message.objects.filter(pk=reunion.pk).update(timestamp=old)
    lunch = services.message_send(sender=noah, receiver=me, content="Lunch at noon?")
    japanese = services.message_send(sender=me, receiver=noah, content="明日の会議は十時です")
    filed = services.message_send(sender=noah, receiver=me, content="the plan, attached")
    Message.objects.filter(pk=filed.pk).update(attachment="attachments/plan.pdf", read=True)
    for n in range(250):  # the Réunion sits far above the conversation's newest part
        services.message_send(sender=noah, receiver=me, content=f"filler {n}")
    Message.objects.filter(pk=lunch.pk).update(read=True)
    page = new_page(390, 844)
    log_in(page, base, "reader")

    def search(q: str) -> list[int]:
        box = page.get_by_role("searchbox", name="Search again")
        box.fill(q)
        box.press("Enter")
        page.wait_for_url(re.compile(r"/search/"))
        return [
            int(i)
            for i in page.locator(".results li").evaluate_all(
                "rows => rows.map(r => r.dataset.messageId)"
            )
        ]

    page.goto(f"{base}/search/?q=reunion")
    expect(page.get_by_role("search", name="Search again")).to_be_visible()  # no Menu needed
    assert search("reunion") == [reunion.pk]
    expect(page.locator(".results mark")).to_have_text("Réunion")
    assert sorted(search("lun")) == sorted([reunion.pk, lunch.pk])  # "lundi" and "Lunch"
    assert search("会議") == [japanese.pk]
    assert search("from:noah lunch") == [lunch.pk]
    assert search("to:noah 会議") == [japanese.pk]
    assert search("plan has:attachment") == [filed.pk]
    assert reunion.pk in search("reunion is:unread")
    assert search(f"reunion before:{timezone.now() - timedelta(days=30):%Y-%m-%d}") == [reunion.pk]
    assert search(f"reunion after:{timezone.now() - timedelta(days=30):%Y-%m-%d}") == []

    # The chips: one to add, then the same one to remove.
    search("noon")
    page.get_by_role("link", name="Unread", exact=True).click()
    expect(page.get_by_role("link", name="Remove is:unread")).to_be_visible()
    expect(page.locator(".results li")).to_have_count(0)
    page.get_by_role("link", name="Remove is:unread").click()
    expect(page.locator(".results li")).to_have_count(1)

    # A result opens its conversation on it, far above the newest part, the words marked.
    search("réunion lund")
    page.locator(".results a").first.click()
    row = page.locator(f"#m{reunion.pk}")
    expect(row).to_be_in_viewport()
    expect(row.locator("mark")).to_have_text(["Réunion", "lund"])


def png(size=(640, 480)) -> str:
    """A PNG picture, base64, for the page to make a File of."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


# A File made in the page from base64, handed to the composer as a drop or a paste would.
HAND_OVER = """([how, name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  const options = { bubbles: true, cancelable: true };
  if (how === "drop") {
    const zone = document.getElementById("chat");
    for (const type of ["dragenter", "dragover", "drop"]) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, ...options }));
    }
  } else {
    const box = document.getElementById("composer-text");
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, ...options }));
  }
}"""


def test_files_dropped_or_pasted_show_their_preview_live_on_both_pages(base, new_page):
    me, pal = UserFactory(username="writer"), UserFactory(username="pal")
    mine, theirs = new_page(), new_page()
    log_in(mine, base, "writer")
    log_in(theirs, base, "pal")
    mine.goto(f"{base}/people/{pal.pk}/")
    theirs.goto(f"{base}/people/{me.pk}/")
    sends = []
    mine.on("request", lambda r: "/send/" in r.url and sends.append(r.url))

    # Too big: refused here, before any upload.
    mine.set_input_files(
        "#attach-input",
        files=[
            {"name": "huge.pdf", "mimeType": "application/pdf", "buffer": b"0" * (10 * 2**20 + 1)}
        ],
    )
    expect(mine.locator("#attach-problem")).to_contain_text("huge.pdf is 10.0 MB")
    expect(mine.locator("#attached")).to_be_hidden()
    mine.set_input_files(
        "#attach-input",
        files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}],
    )
    expect(mine.locator("#attach-problem")).to_contain_text("tool.exe cannot be attached")
    assert sends == []

    mine.evaluate(HAND_OVER, ["drop", "dropped.png", png()])
    expect(mine.locator("#attached")).to_contain_text("dropped.png")
    mine.get_by_label("Message to pal").fill("the view from here")
    mine.get_by_label("Message to pal").press("Enter")
    dropped = None

    def sent(name):
        return Message.objects.filter(sender=me, attachment_name=name).first()

    for page in (mine, theirs):
        card = page.locator("li.msg .file").filter(has_text="dropped.png")
        expect(card.locator("img")).to_be_visible(timeout=LIVE_MS * 4)  # the worker's preview
        expect(card).to_contain_text("PNG · ")
    dropped = sent("dropped.png")
    assert dropped.thumbnail

    mine.evaluate(HAND_OVER, ["paste", "image.png", png((300, 200))])
    expect(mine.locator("#attached")).to_contain_text("pasted-")
    mine.get_by_role("button", name="Send").click()  # a file alone is a message
    expect(theirs.locator("li.msg .file img")).to_have_count(2, timeout=LIVE_MS * 4)
    pasted = Message.objects.filter(sender=me).exclude(pk=dropped.pk).get()
    assert pasted.attachment_name.startswith("pasted-")
    assert pasted.content == ""
    assert len(sends) == 2
    services.message_send(
        sender=pal,
        receiver=me,
        content="Lovely! The route: https://www.openstreetmap.org/ and the code is `4521`.",
    )
    expect(theirs.get_by_role("link", name="https://www.openstreetmap.org/")).to_be_visible()
    screenshot(theirs, "conversation-files", full_page=False)
