from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser


class StrictJSONParser(JSONParser):
    """JSON whose strings are all valid Unicode ("\\ud800" alone cannot be stored anywhere),
    and whose nesting Python can parse (a document nested ~1,000 deep is a 400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            _check_encodable(data)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
        except UnicodeEncodeError as error:
            raise ParseError(
                _("JSON parse error - a string holds an unpaired surrogate.")
            ) from error
        return data


def _check_encodable(value) -> None:
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _check_encodable(item)
    elif isinstance(value, list):
        for item in value:
            _check_encodable(item)


class _NamedFilesParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name):
        # Django drops a file whose name is "..", "." or "a/..": the request would then look
        # as if no file had been sent, and be answered 201. Say what is wrong instead.
        sanitized = super().sanitize_file_name(file_name)
        if sanitized is None:
            raise MultiPartParserError(
                _("the uploaded file's name %(name)r is not a file name") % {"name": file_name}
            )
        return sanitized


class StrictMultiPartParser(MultiPartParser):
    """Multipart forms whose files all have a usable name."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        encoding = parser_context.get("encoding") or "utf-8"
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            data, files = _NamedFilesParser(meta, stream, request.upload_handlers, encoding).parse()
        except MultiPartParserError as error:
            raise ParseError(
                _("Multipart form parse error - %(error)s") % {"error": error}
            ) from error
        return DataAndFiles(data, files)
