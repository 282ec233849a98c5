"""The size limit of uploaded request bodies, enforced before they are read."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.translation import gettext as _


class RequestSizeLimit(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: refuse a multipart body larger than UPLOAD_MAX_BYTES from
    its Content-Length, before reading any of it, or as soon as it passes the limit when it
    gave none. (Django's own limits stop at form fields: files were written to disk whole
    before the attachment's size was checked.)"""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > settings.UPLOAD_MAX_BYTES:
            raise RequestDataTooBig(_too_big())
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            raise RequestDataTooBig(_too_big())
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers keep the file


def _too_big() -> str:
    megabytes = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
    return _("The request is larger than %(megabytes)d MB.") % {"megabytes": megabytes}
