from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose strings are all valid Unicode: "\\ud800" alone cannot be stored anywhere."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            _check_encodable(data)
        except UnicodeEncodeError as error:
            raise ParseError("JSON parse error - a string holds an unpaired surrogate.") from error
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
