from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from messaging import rules, selectors

User = get_user_model()


class ContentField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=settings.MESSAGE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 4}),
            error_messages={"required": _("Write something first.")},
            **kwargs,
        )


class AttachmentChecked:
    """A form whose `attachment` is checked by messaging.rules (its size and type)."""

    def clean_attachment(self):
        attachment = self.cleaned_data.get("attachment")
        if reason := rules.attachment_error(attachment):
            raise forms.ValidationError(reason)
        return attachment


class ComposeForm(AttachmentChecked, forms.Form):
    receiver = forms.CharField(label=_("To"), max_length=150, help_text=_("Their username."))
    content = ContentField(label=_("Message"))
    attachment = forms.FileField(required=False, label=_("Attachment (optional, 10 MB at most)"))

    def __init__(self, *args, sender, **kwargs):
        super().__init__(*args, **kwargs)
        self.sender = sender

    def clean_receiver(self):
        username = self.cleaned_data["receiver"].strip()
        receiver = selectors.active_user(username__iexact=username)
        if receiver is None:
            raise forms.ValidationError(
                gettext("Nobody is called “%(username)s”.") % {"username": username}
            )
        return receiver

    def clean(self):
        data = super().clean()
        if "receiver" in data and "content" in data:
            errors = rules.new_message_errors(
                sender=self.sender, receiver=data["receiver"], content=data["content"]
            )
            for field, reason in errors.items():
                self.add_error(field if field in self.fields else None, reason)
        return data


class ContentForm(forms.Form):
    """A reply or an edit: the content alone."""

    def clean_content(self):
        # A form posts its line breaks as CRLF (the HTML standard); kept as typed: LF.
        content = self.cleaned_data["content"].replace("\r\n", "\n")
        if reason := rules.content_error(content):
            raise forms.ValidationError(reason)
        return content


class ReplyForm(ContentForm):
    content = ContentField(label=_("Reply"))


class EditForm(ContentForm):
    content = ContentField(label=_("Message"))


class ChatForm(AttachmentChecked, forms.Form):
    """A conversation's composer: the content, a file, and the message it replies to if any
    (the content may be empty when a file comes with it)."""

    content = ContentField(label=_("Message"), required=False)
    parent = forms.IntegerField(required=False, min_value=1, max_value=selectors.MAX_ID)
    attachment = forms.FileField(required=False)

    def clean_content(self):
        return self.cleaned_data["content"].replace("\r\n", "\n")

    def clean(self):
        data = super().clean()
        if "content" in data and "attachment" in data:
            with_file = bool(data["attachment"])
            if not data["content"].strip() and not with_file:
                self.add_error("content", gettext("Write something first, or attach a file."))
            elif reason := rules.content_error(data["content"], with_file=with_file):
                self.add_error("content", reason)
        return data
