"""English and French: every page, form error, API error and alert in the language the
browser asks for or the header's switch chose; the French catalogue complete."""

import asyncio
import gettext
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from rest_framework.test import APIClient

from accounts.forms import time_zones
from devtools.factories import MessageFactory
from jobs import alerts
from jobs.models import Alert
from maintenance import tasks
from messaging import services, streams
from messaging.models import MessageHistory, Notification
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES"
FR = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


class Segments(HTMLParser):
    """The words a person reads or hears on a page: text between tags, and the attributes
    that are shown or spoken. Left out: scripts, styles, <code> (the query syntax and
    commands are the same in both languages) and anything marked as another language (the
    switch's button naming the other language in its own)."""

    SPOKEN = ("aria-label", "placeholder", "title", "alt", "data-one", "data-other")
    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, language: str):
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[bool] = []  # per open element: is its content skipped
        self.found: set[str] = set()

    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        other_language = attrs.get("lang") not in (None, self.language)
        skip = self.skipping() or tag in ("script", "style", "code") or other_language
        if not skip:
            for name in (*self.SPOKEN, "data-new-message"):
                if attrs.get(name):
                    self.add(attrs[name])
        if tag not in self.VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skipping():
            self.add(data)

    def add(self, text: str):
        text = " ".join(text.split())
        if re.search(r"[A-Za-z]{2}", text):
            self.found.add(text)


def segments(html: str, language: str) -> set[str]:
    parser = Segments(language)
    parser.feed(html)
    return parser.found


def same_in_both() -> set[str]:
    """Words whose French is the English word (Messages, Conversation, Menu, ...)."""
    with open(CATALOGUE / "django.mo", "rb") as mo:
        catalogue = gettext.GNUTranslations(mo)._catalog
    return {
        str(text)
        for key, text in catalogue.items()
        if isinstance(key, str) and key.split("\x04")[-1] == text
    }


@pytest.fixture
def conversation(user, other_user):
    """Everything a page can show: messages both ways (a reply, an edit with its history,
    an attachment, an unread one), a notification."""
    when = datetime(2026, 3, 5, 14, 3, tzinfo=UTC)
    first = MessageFactory(sender=other_user, receiver=user, content="Lunch on Friday?")
    reply = services.message_send(
        sender=user, receiver=other_user, content="Gladly", parent_message=first
    )
    services.message_edit(message=reply, editor=user, content="Gladly, at noon")
    MessageHistory.objects.get_or_create(  # the worker's part, written here
        message=reply, defaults={"old_content": "Gladly", "edited_by": user, "edited_at": when}
    )
    attached = services.message_send(
        sender=other_user,
        receiver=user,
        content="The menu",
        attachment=SimpleUploadedFile("menu.txt", b"soup"),
    )
    Notification.objects.create(user=user, message=attached)
    type(first).objects.filter(pk=first.pk).update(timestamp=when)
    return {"first": first, "reply": reply, "attached": attached}


def pages(user, other_user, conversation) -> list[tuple[str, str, dict | None]]:
    """(method, path, form) of every page a signed-in user sees; POSTs show form errors."""
    first = conversation["first"]
    return [
        ("get", "/", None),
        ("get", "/received/", None),
        ("get", "/sent/", None),
        ("get", f"/people/{other_user.pk}/", None),
        ("get", f"/messages/{first.pk}/", None),
        ("get", f"/messages/{conversation['reply'].pk}/edit/", None),
        ("post", f"/messages/{conversation['reply'].pk}/edit/", {"content": " "}),
        ("get", "/compose/", None),
        ("post", "/compose/", {"receiver": "nobody-at-all", "content": ""}),
        ("post", "/compose/", {"receiver": user.username, "content": "Note to self"}),
        ("get", "/notifications/", None),
        ("get", "/search/?q=lunch", None),
        ("get", "/search/?q=nothingmatches", None),
        ("get", "/search/?q=%20", None),
        ("get", "/account/delete/", None),
        ("post", "/account/delete/", {"password": "wrong"}),
        ("get", "/settings/", None),
        ("post", "/settings/", {"time_zone": "Nowhere/Atlantis", "theme": "dark"}),
        ("get", "/accounts/password_change/", None),
        ("post", "/accounts/password_change/", {"old_password": "wrong"}),
        ("get", f"/messages/{conversation['reply'].pk}/delete/", None),
        ("get", "/no/such/page/", None),
    ]


def user_data(user, other_user) -> set[str]:
    texts = {user.username, other_user.username, "Lunch on Friday?", "Gladly", "The menu"}
    return texts | {"Gladly, at noon", "lunch", "nothingmatches", "Note to self", "menu.txt"}


def untranslated(en: str, fr: str, allowed: set[str], data: set[str] = frozenset()) -> set[str]:
    """What reads the same in both pages and is neither data nor a word that French shares
    (a title is "<page> · Messages": each part is judged)."""
    english = segments(en, "en")
    return {
        text
        for text in segments(fr, "fr") & english
        if not all(part in allowed or _in_data(part, data) for part in text.split(" · "))
    }


def _in_data(text: str, data: set[str]) -> bool:
    return any(text in value for value in data)  # a highlight cuts a message in pieces


def test_every_page_in_french_has_no_english_left(client, user, other_user, conversation):
    client.force_login(user)
    allowed, data = same_in_both(), user_data(user, other_user)
    data |= {label for value, label in time_zones() if value}  # names, not words
    data |= {name for _, name in settings.LANGUAGES}  # each in its own language
    for method, path, form in pages(user, other_user, conversation):
        answers = {}
        for language, headers in (("en", EN), ("fr", FR)):
            response = getattr(client, method)(path, form or {}, **headers)
            assert response.status_code in (200, 400, 404), (path, response.status_code)
            assert f'<html lang="{language}"' in response.content.decode(), path
            assert response["Content-Language"] == language
            answers[language] = response.content.decode()
        assert untranslated(answers["en"], answers["fr"], allowed, data) == set(), path
        assert answers["en"] != answers["fr"], path


def test_the_pages_of_someone_signed_out_in_french(client):
    allowed = same_in_both()
    for method, path, form in [
        ("get", "/accounts/login/", None),
        ("post", "/accounts/login/", {"username": "nobody", "password": "wrong"}),
        ("get", "/accounts/signup/", None),
        ("post", "/accounts/signup/", {"username": "x", "password1": "1", "password2": "2"}),
    ]:
        en = getattr(client, method)(path, form or {}, **EN).content.decode()
        fr = getattr(client, method)(path, form or {}, **FR).content.decode()
        assert untranslated(en, fr, allowed) == set(), path
    assert "Se connecter" in client.get("/accounts/login/", **FR).content.decode()


ERROR = "LookupError: App 'messaging' doesn't have a 'NoSuchModel' model."


def test_the_jobs_page_in_french(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    crontab, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="3")
    PeriodicTask.objects.create(
        name="archive", task="maintenance.archive_old_records", crontab=crontab
    )
    with pytest.raises(LookupError):
        tasks.archive_old_records("messaging.NoSuchModel", "timestamp")
    en, fr = (
        client.get("/admin/jobs/jobrun/jobs/", **headers).content.decode() for headers in (EN, FR)
    )
    # Our template's part of the page; around it the admin speaks Django's words, with the
    # apps' and models' names. The job's name, task, error and crontab are data.
    ours = [page[page.index('<div id="content-main"') :] for page in (en, fr)]
    left = {
        text
        for text in untranslated(*ours, same_in_both(), {"archive", ERROR})
        if not re.fullmatch(r"[\d\-: ]+UTC|maintenance\.\w+|[\d *]+\(m/h/dM/MY/d\) UTC", text)
    }
    assert left == set()
    assert "Prochaine exécution" in fr


def test_form_errors_and_flash_messages_in_french(client, user, other_user):
    client.force_login(user)
    page = client.post("/compose/", {"receiver": "nobody", "content": ""}, **FR).content
    assert "Personne ne s’appelle « nobody »." in page.decode()
    assert "Écrivez d’abord quelque chose." in page.decode()
    response = client.post(
        "/compose/", {"receiver": other_user.username, "content": "Salut"}, follow=True, **FR
    )
    assert f"Message envoyé à {other_user.username}." in response.content.decode()


def test_api_errors_in_french(user, other_user):
    api = client_for(user)
    to_self = {"receiver": user.pk, "content": "x"}
    sent = api.post("/api/v1/messages/", to_self, **FR).json()
    assert sent["receiver"] == ["Vous ne pouvez pas vous envoyer un message."]
    # DRF's own messages come in French too.
    blank = api.post("/api/v1/messages/", {"receiver": other_user.pk, "content": " "}, **FR)
    assert blank.json()["content"] == ["Le contenu ne doit pas être vide."]
    assert api.get("/api/v1/conversations/99999/", **FR).json() == {
        "detail": "Cet utilisateur n’existe pas."
    }
    search = api.get("/api/v1/messages/?q=%20", **FR).json()
    assert search == {"q": ["Tapez ce que vous cherchez."]}
    english = api.post("/api/v1/messages/", to_self, **EN).json()
    assert english["receiver"] == ["You cannot send a message to yourself."]
    anonymous = APIClient().get("/api/v1/messages/", **FR)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "Informations d’authentification non fournies."


def test_the_event_streams_errors_in_french():
    """The streams are served ahead of Django's middleware: they choose the language."""
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    for headers, detail in [
        ([(b"accept-language", b"fr")], "Seul GET ouvre un flux d’événements."),
        ([(b"cookie", b"django_language=fr")], "Seul GET ouvre un flux d’événements."),
        ([(b"accept-language", b"en")], "Only GET opens an event stream."),
    ]:
        sent.clear()
        scope = {"method": "POST", "headers": headers, "query_string": b""}
        asyncio.run(streams.stream(scope, receive, send))
        assert sent[0]["status"] == 405
        assert json.loads(sent[1]["body"]) == {"detail": detail}


def test_the_switch_keeps_the_chosen_language(client, user):
    client.force_login(user)
    english = client.get("/", **EN).content.decode()
    assert '<button type="submit" name="language" value="fr" lang="fr"' in english
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/sent/"}, **EN)
    assert response.status_code == 302
    assert response["Location"] == "/sent/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    # The browser still asks for English: the choice wins.
    french = client.get("/sent/", **EN)
    assert french["Content-Language"] == "fr"
    assert "Envoyés" in french.content.decode()
    assert 'value="en" lang="en"' in french.content.decode()


def test_dates_and_counts_are_written_as_each_language_writes_them(
    client, user, other_user, conversation
):
    client.force_login(user)
    assert "2 nouveaux" in client.get("/", **FR).content.decode()
    assert "2 new" in client.get("/", **EN).content.decode()
    path = f"/people/{other_user.pk}/"  # (reads the messages)
    assert "Mar 5, 14:03" in client.get(path, **EN).content.decode()
    assert "5 mars, 14:03" in client.get(path, **FR).content.decode()


def test_the_cached_inbox_list_is_kept_per_language(client, user, other_user, conversation):
    client.force_login(user)
    assert "2 new" in client.get("/", **EN).content.decode()  # cached in English
    french = client.get("/", **FR).content.decode()
    assert "2 nouveaux" in french
    assert "2 new" not in french
    assert "2 new" in client.get("/", **EN).content.decode()


def test_alerts_are_written_in_the_sites_language(settings, mailoutbox):
    settings.LANGUAGE_CODE = "fr"
    settings.ADMINS = [("ops", "ops@example.com")]
    due = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    alert = alerts.alert_missed(
        job="maintenance.archive_old_records",
        name="archive",
        due=due,
        key="missed:test",
        hint="",
    )
    assert alert.subject == "archive ne s’est pas exécutée (prévue le 2026-12-05 03:00 UTC)"
    with pytest.raises(LookupError):
        tasks.archive_old_records("messaging.NoSuchModel", "timestamp")
    failed = Alert.objects.get(kind=Alert.Kind.FAILED)  # recorded as the run failed
    assert failed.subject.startswith("archive_old_records a échoué : LookupError")
    assert "Raison : LookupError" in failed.body
    alerts.deliver_pending()
    assert sorted(mail.subject for mail in mailoutbox) == sorted(
        f"{settings.EMAIL_SUBJECT_PREFIX}{subject}" for subject in (alert.subject, failed.subject)
    )


def test_the_catalogue_holds_every_string_of_the_code_translated(tmp_path):
    """`make messages` on a copy of the project: the French catalogue it gathers from the
    code has no string left untranslated or fuzzy, and the committed django.mo is what it
    compiles to."""
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".local", "media", "staticfiles", "reports", "__pycache__"
        ),
    )
    (copy / ".venv").symlink_to(ROOT / ".venv")
    done = subprocess.run(
        ["make", "-s", "messages"], cwd=copy, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    po = copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    for which in ("--untranslated", "--only-fuzzy"):
        left = subprocess.run(["msgattrib", which, "--no-obsolete", str(po)], capture_output=True)
        assert left.stdout.decode() == "", which

    def catalogue(directory: Path) -> dict:
        with open(directory / "locale" / "fr" / "LC_MESSAGES" / "django.mo", "rb") as mo:
            return gettext.GNUTranslations(mo)._catalog

    committed, gathered = catalogue(ROOT), catalogue(copy)
    assert {k: v for k, v in committed.items() if k} == {k: v for k, v in gathered.items() if k}
    assert len(gathered) > 150
