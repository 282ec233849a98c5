from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

User = get_user_model()


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "email"]


class ContentField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=settings.MESSAGE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 4}),
            error_messages={"required": "Write something first."},
            **kwargs,
        )


class ComposeForm(forms.Form):
    receiver = forms.CharField(label="To", max_length=150, help_text="Their username.")
    content = ContentField(label="Message")
    attachment = forms.FileField(required=False, label="Attachment (optional, 10 MB at most)")

    def __init__(self, *args, sender, **kwargs):
        super().__init__(*args, **kwargs)
        self.sender = sender

    def clean_receiver(self):
        username = self.cleaned_data["receiver"].strip()
        receiver = User.objects.filter(username__iexact=username, is_active=True).first()
        if receiver is None:
            raise forms.ValidationError(f"Nobody is called “{username}”.")
        if receiver == self.sender:
            raise forms.ValidationError("You cannot send a message to yourself.")
        return receiver

    def clean_attachment(self):
        attachment = self.cleaned_data.get("attachment")
        if attachment and attachment.size > settings.ATTACHMENT_MAX_BYTES:
            raise forms.ValidationError("An attachment may be at most 10 MB.")
        return attachment


class ReplyForm(forms.Form):
    content = ContentField(label="Reply")


class EditForm(forms.Form):
    content = ContentField(label="Message")


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autofocus": True})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("The password is not correct.")
        return password
