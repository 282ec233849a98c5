"""A Server-Sent Events client for the tests: reads a stream in a thread of its own."""

import contextlib
import http.client
import json
import queue
import socket
import threading
from dataclasses import dataclass


@dataclass
class Received:
    id: str | None
    name: str
    data: str

    def json(self):
        return json.loads(self.data)


class Stream:
    """GET `path` on 127.0.0.1:`port` with `headers`; `status` and `headers` once answered,
    then the events in `next()`. A non-200 answer's body is in `body`."""

    def __init__(self, port: int, path: str, headers: dict | None = None, timeout: float = 10):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.request(
            "GET", path, headers={"Accept": "text/event-stream", **(headers or {})}
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.events: queue.Queue[Received | None] = queue.Queue()
        self.retry: int | None = None
        self.body = b""
        self.ended = threading.Event()
        if self.status == 200:
            self.response.fp.raw._sock.settimeout(None)  # idle streams wait as long as needed
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.response.read()
            self.ended.set()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            # The response, not its socket: chunked framing decoded, and the end of the body
            # (a stream the server ended on a kept-alive connection) ends the loop.
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "data" in fields:
                        self.events.put(
                            Received(
                                fields.get("id"), fields.get("event", "message"), fields["data"]
                            )
                        )
                    fields = {}
                elif not line.startswith(":"):  # ":" starts a comment (the heartbeat)
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "retry":
                        self.retry = int(value)
                    else:
                        fields[name] = value
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by us
        finally:
            self.ended.set()
            self.events.put(None)

    def next(self, timeout: float = 10) -> Received:
        """The next event; fails if none comes within `timeout` or the stream ends."""
        event = self.events.get(timeout=timeout)
        assert event is not None, "the stream ended"
        return event

    def take(self, count: int, timeout: float = 10) -> list[Received]:
        return [self.next(timeout) for _ in range(count)]

    def close(self) -> None:
        """Hang up (the reading thread wakes up and the server sees the connection go)."""
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: already closed
            self.response.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        self.response.close()
        self.connection.close()
