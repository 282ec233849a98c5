"""gunicorn settings for the send baseline: the messaging signal receivers disconnected, so
a request saves the message and nothing else (no task published, no cache touched)."""


def post_worker_init(worker):
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save, pre_save

    from messaging.models import Message

    pre_save.disconnect(sender=Message, dispatch_uid="messaging.message_pre_save")
    post_save.disconnect(sender=Message, dispatch_uid="messaging.message_post_save")
    post_delete.disconnect(sender=Message, dispatch_uid="messaging.message_post_delete")
    post_delete.disconnect(sender=get_user_model(), dispatch_uid="messaging.user_post_delete")
