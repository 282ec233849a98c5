"""What the platform's processes send out, received on loopback: spans (OTLP over HTTP, as
an OpenTelemetry collector receives them) and error reports (Sentry's envelopes). The tests
keep them in memory to look at; the benchmarks drop them.

    python -m devtools.collector    # drops everything; prints its port, then serves
"""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Collector:
    def __init__(self, *, keep: bool = True):
        self.keep = keep
        self.exports = 0
        self.spans: list[dict] = []
        self.envelopes: list[list[dict]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.receive(self.path, self.headers.get("Content-Encoding"), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, path: str, encoding: str | None, body: bytes) -> None:
        self.exports += 1
        if not self.keep:
            return
        if encoding == "gzip":
            body = gzip.decompress(body)
        if path == "/v1/traces":
            self.receive_spans(body)
        elif path.endswith("/envelope/"):
            self.envelopes.append(
                [json.loads(line) for line in body.splitlines() if line.startswith(b"{")]
            )

    def receive_spans(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.spans.append(
                        {
                            "service": service,
                            "name": span.name,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None,
                        }
                    )

    def close(self) -> None:
        self.server.shutdown()


if __name__ == "__main__":
    dropping = Collector(keep=False)
    print(dropping.port, flush=True)
    threading.Event().wait()
