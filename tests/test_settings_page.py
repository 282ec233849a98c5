"""The settings page (accounts.models.Preferences): stored per person, applied to every page
they see, read with the user in one query; the password change in the platform's style."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Preferences
from devtools.factories import PASSWORD, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


def test_the_defaults_follow_the_browser_and_the_device(web):
    html = web.get("/settings/").content.decode()
    assert 'data-theme="system"' in html
    assert "data-time-zone" not in html
    assert re.search(r'<option value="" selected>Same as this browser</option>', html)
    assert 'href="/account/delete/"' in html
    assert 'href="/accounts/password_change/"' in html


def test_saved_choices_apply_to_every_page(web, user, other_user):
    MessageFactory(sender=other_user, receiver=user, content="hello")
    answer = web.post(
        "/settings/",
        {"time_zone": "America/Los_Angeles", "language": "fr", "theme": "dark", "sound": "on"},
    )
    assert answer.status_code == 302
    stored = Preferences.objects.get(user=user)
    assert (stored.time_zone, stored.language, stored.theme) == (
        "America/Los_Angeles",
        "fr",
        "dark",
    )
    assert (stored.notifications, stored.sound) == (False, True)

    html = web.get(f"/people/{other_user.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="fr" data-theme="dark">' in html
    assert 'data-time-zone="America/Los_Angeles"' in html
    assert " data-sound" in html
    assert " data-notify" not in html
    # The server writes times in the chosen zone too (for pages read without the script).
    assert re.search(r'<time datetime="[^"]+-0[78]:00">[^<]+ P[SD]T</time>', html)


def test_a_zone_or_theme_that_does_not_exist_is_a_400(web, user):
    answer = web.post("/settings/", {"time_zone": "Nowhere/Atlantis", "theme": "neon"})
    assert answer.status_code == 400
    assert "Nowhere/Atlantis is not one of the available choices" in answer.content.decode()
    assert not Preferences.objects.filter(user=user).exists()


def test_the_header_switch_saves_the_language_of_a_signed_in_person(web, user):
    web.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert Preferences.objects.get(user=user).language == "fr"
    # The saved choice wins over the browser's language on another device.
    elsewhere = Client()
    elsewhere.force_login(user)
    assert '<html lang="fr"' in elsewhere.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_preferences_come_with_the_user_in_one_query(web, user):
    Preferences.objects.create(user=user, theme="dark")
    with CaptureQueriesContext(connection) as queries:
        web.get("/settings/")
    table = Preferences._meta.db_table
    reading = [q["sql"] for q in queries if table in q["sql"]]
    assert len(reading) == 1
    assert "JOIN" in reading[0]  # the user's own query


def test_the_password_changes_in_the_platform_s_style_and_ends_other_sessions(web, user):
    other_device = Client()
    other_device.force_login(user)
    page = web.get("/accounts/password_change/").content.decode()
    assert 'class="card narrow"' in page
    assert "Django administration" not in page
    done = web.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new long phrase 42",
            "new_password2": "a new long phrase 42",
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/settings/"
    assert "Password changed" in done.content.decode()
    assert other_device.get("/").status_code == 302  # to the login page


def test_the_footer_no_longer_holds_the_account_deletion(web):
    html = web.get("/").content.decode()
    assert "Delete my account" not in html
    assert 'href="/settings/"' in html


def test_the_settings_are_for_signed_in_people(client):
    assert client.get("/settings/").status_code == 302
