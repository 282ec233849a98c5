"""The server-rendered pages, through Django's test client."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from devtools.factories import PASSWORD, MessageFactory, UserFactory
from messaging import selectors, services
from messaging.models import Message, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


def test_signup_logs_the_new_user_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_signup_shows_errors_next_to_the_field(client):
    response = client.post(
        "/accounts/signup/", {"username": "x", "password1": "123", "password2": "124"}
    )
    assert response.status_code == 200
    assert 'id="id_password2_error"' in response.content.decode()


def test_pages_need_a_login(client):
    for url in ("/", "/sent/", "/compose/", "/notifications/", "/account/delete/", "/badge/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


def test_the_received_list_shows_each_message_and_marks_unread(web, user, other_user):
    MessageFactory(sender=other_user, receiver=user, content="hello there")
    MessageFactory(sender=other_user, receiver=user, content="old news", read=True)
    html = web.get("/received/").content.decode()
    assert "hello there" in html
    assert "old news" in html
    assert html.count('class="message unread"') == 1
    assert 'id="badge-messages"' in html


def test_sent_tab_lists_sent_messages(web, user, other_user):
    MessageFactory(sender=user, receiver=other_user, content="from me")
    html = web.get("/sent/").content.decode()
    assert "from me" in html
    assert f"To {other_user.username}" in html


def test_thread_page_shows_replies_indented_and_history(web, user, other_user):
    root = MessageFactory(sender=other_user, receiver=user, content="root")
    reply = MessageFactory(sender=user, receiver=other_user, content="reply", parent_message=root)
    services.message_edit(message=reply, editor=user, content="reply, edited")
    services.history_record(
        message_id=reply.pk,
        old_content="reply",
        edited_at=Message.objects.get(pk=reply.pk).edited_at.isoformat(),
        editor_id=user.pk,
    )
    html = web.get(f"/messages/{reply.pk}/").content.decode()
    assert html.index("root") < html.index("reply, edited")
    assert 'class="post depth-1' in html  # indented by its class (no inline style: CSP)
    assert "<summary>edited</summary>" in html
    assert '<span class="old">reply</span>' in html
    # Shown is not read: the page's script marks it once it has been looked at.
    assert not Message.objects.get(pk=root.pk).read
    assert f'id="m{root.pk}" data-message-id="{root.pk}" data-unread>' in html
    assert f'id="m{reply.pk}" data-message-id="{reply.pk}">' in html  # one's own: no mark


def test_long_thread_opens_on_the_page_of_the_linked_message(web, user, other_user, monkeypatch):
    monkeypatch.setattr(selectors, "THREAD_PART_SIZE", 3)
    chain = [MessageFactory(sender=other_user, receiver=user, content="post 0")]
    for n in range(1, 8):  # a straight chain: depth-first order is creation order
        chain.append(
            MessageFactory(
                sender=other_user, receiver=user, content=f"post {n}", parent_message=chain[-1]
            )
        )

    html = web.get(f"/messages/{chain[4].pk}/").content.decode()

    assert [f"post {n}" in html for n in range(8)] == [n in (3, 4, 5) for n in range(8)]
    assert "Messages 4 to 6 of 8" in html
    assert '<a href="?page=1">Earlier</a>' in html
    assert '<a href="?page=3">Later</a>' in html
    assert "post 7" in web.get(f"/messages/{chain[0].pk}/?page=3").content.decode()
    assert "post 0" in web.get(f"/messages/{chain[0].pk}/?page=nonsense").content.decode()


def test_another_pairs_thread_is_404(web):
    strangers = MessageFactory()
    assert web.get(f"/messages/{strangers.pk}/").status_code == 404
    assert web.post(f"/messages/{strangers.pk}/reply/", {"content": "x"}).status_code == 404
    assert web.get(f"/messages/{strangers.pk}/edit/").status_code == 404


def test_reply_goes_to_the_other_person(web, user, other_user):
    root = MessageFactory(sender=other_user, receiver=user)
    response = web.post(f"/messages/{root.pk}/reply/", {"content": "thanks"})
    assert response.status_code == 302
    reply = Message.objects.get(parent_message=root)
    assert (reply.sender, reply.receiver, reply.content) == (user, other_user, "thanks")


def test_compose_sends_and_shows_errors_next_to_fields(web, user, other_user):
    response = web.post("/compose/", {"receiver": "nobody-here", "content": " "})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nobody is called" in html
    assert 'id="id_content_error"' in html
    upload = SimpleUploadedFile("a.txt", b"hi")
    response = web.post(
        "/compose/", {"receiver": other_user.username, "content": "hi", "attachment": upload}
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.receiver, message.content) == (other_user, "hi")
    assert message.attachment.name.endswith(".txt")


def test_only_the_sender_can_edit(client, user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="mine")
    client.force_login(other_user)
    assert client.post(f"/messages/{message.pk}/edit/", {"content": "x"}).status_code == 403
    client.force_login(user)
    response = client.post(f"/messages/{message.pk}/edit/", {"content": "mine, better"})
    assert response.status_code == 302
    assert Message.objects.get(pk=message.pk).content == "mine, better"


def test_notifications_mark_one_and_all_read(web, user, other_user):
    for message in MessageFactory.create_batch(2, sender=other_user, receiver=user):
        services.notifications_create(message_ids=[message.pk])
    first = Notification.objects.filter(user=user).first()
    assert web.get("/badge/").json() == {"messages": 2, "notifications": 2}
    web.post(f"/notifications/{first.pk}/read/")
    assert web.get("/badge/").json()["notifications"] == 1
    web.post("/notifications/read-all/")
    assert web.get("/badge/").json()["notifications"] == 0
    other = Notification.objects.create(
        user=other_user, message=MessageFactory(receiver=other_user)
    )
    assert web.post(f"/notifications/{other.pk}/read/").status_code == 404


def test_mark_all_read_clears_the_message_badge(web, user):
    MessageFactory.create_batch(3, receiver=user)
    web.post("/inbox/read-all/")
    assert web.get("/badge/").json()["messages"] == 0


def test_delete_account_needs_the_password_then_logs_out(web, user):
    response = web.post("/account/delete/", {"password": "wrong"})
    assert "The password is not correct." in response.content.decode()
    response = web.post("/account/delete/", {"password": PASSWORD})
    assert response.status_code == 302
    assert web.get("/").status_code == 302
    user.refresh_from_db()
    assert not user.is_active


def test_forms_carry_a_csrf_token(web, user, other_user):
    root = MessageFactory(sender=other_user, receiver=user)
    for url in ("/compose/", "/account/delete/", f"/messages/{root.pk}/", "/notifications/"):
        assert "csrfmiddlewaretoken" in web.get(url).content.decode(), url


def test_error_pages_use_the_site_look(web):
    response = web.get("/no/such/page/")
    assert response.status_code == 404
    assert "site.css" in response.content.decode()


def test_inbox_page_cache_never_crosses_users(client, user, other_user):
    MessageFactory(receiver=user, content="for user only")
    MessageFactory(receiver=other_user, content="for other only")
    for _ in range(3):
        client.force_login(user)
        html = client.get("/").content.decode()
        assert "for user only" in html
        assert "for other only" not in html
        client.force_login(other_user)
        html = client.get("/").content.decode()
        assert "for other only" in html
        assert "for user only" not in html


def test_inbox_page_is_fresh_after_a_new_message(
    web, user, other_user, django_capture_on_commit_callbacks
):
    assert "first words" not in web.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(sender=other_user, receiver=user, content="first words")
    assert "first words" in web.get("/").content.decode()


def test_inactive_login_is_refused(client):
    ghost = UserFactory(is_active=False)
    response = client.post("/accounts/login/", {"username": ghost.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
