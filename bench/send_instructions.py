"""Issue 31: what metrics and traces cost the web process per send, in CPU instructions
(valgrind's callgrind), a count that other tenants of the machine cannot blur.

    python -m bench.send_instructions    # BENCH_SENDS (100), BENCH_REPEAT (3)

Each configuration runs in a process of its own under callgrind: Django set up on the
bench database (bench.common), then sends through the whole middleware stack and the API
(DRF's test client, in-process: no server, no network), twice: 20 sends and 20 +
BENCH_SENDS. The difference, divided by BENCH_SENDS, is the instructions of one send in the
web process (PostgreSQL's and Redis's work is in their own processes, not counted). The
count is not exact: what runs on a clock (the exporter's thread, the connection and cache
timers) runs more often in a process callgrind slows fifty times, so each configuration is
measured BENCH_REPEAT times and the median kept, with the spread shown.
Configurations:

- both off;
- metrics on (prometheus-client's multiprocess mode, as the services run it);
- traces on, every trace exported over OTLP/HTTP (batched, to a collector in another
  process that reads and drops them), with every instrumentation;
- the same without the SQL and Redis spans (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS);
- the same with every instrumentation, 10 % of traces sampled.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import machine, table

ROOT = Path(__file__).resolve().parent.parent
SENDS = int(os.environ.get("BENCH_SENDS", "100"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
WARM = 20

SENDER = """
import os, sys
from bench.common import setup_without_reset
setup_without_reset()
from core import telemetry
telemetry.start("web")
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from config.wsgi import application  # as the server loads it
User = get_user_model()
a, _ = User.objects.get_or_create(username="instr_a")
b, _ = User.objects.get_or_create(username="instr_b")
client = APIClient(SERVER_NAME="127.0.0.1")
client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get_or_create(user=a)[0].key)
for n in range(int(sys.argv[1])):
    response = client.post("/api/v1/messages/", {"receiver": b.pk, "content": f"n {n}"},
                           format="json")
    assert response.status_code == 201, response.content
"""


def configurations(sink: str, directory: str) -> dict[str, dict]:
    traces = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    metrics = {"METRICS_PORT": "1", "METRICS_DIR": directory}
    return {
        "both off": {},
        "metrics on": metrics,
        "metrics and every trace": {**metrics, **traces},
        "metrics and every trace, no SQL or Redis spans": {
            **metrics,
            **traces,
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "psycopg,redis",
        },
        "metrics and 10 % of traces": {
            **metrics,
            **traces,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        },
    }


def instructions(env: dict, sends: int) -> int:
    out = tempfile.mktemp(prefix="callgrind-")
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, "-c", SENDER, str(sends)],
        cwd=ROOT, env={**os.environ, "MESSAGE_SEND_RATE": "1000000/s", **env},
        check=True, capture_output=True,
    )  # fmt: skip
    for line in Path(out).read_text().splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
    os.unlink(out)
    return total


def main() -> None:
    sink = subprocess.Popen([sys.executable, "-m", "devtools.collector"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    port = sink.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as directory:
            configs = configurations(f"http://127.0.0.1:{port}", directory)
            jobs = [
                (name, sends, attempt)
                for attempt in range(REPEAT)
                for name in configs
                for sends in (WARM, WARM + SENDS)
            ]
            with ThreadPoolExecutor(2) as pool:
                counts = dict(zip(jobs, pool.map(lambda j: instructions(configs[j[0]], j[1]),
                                                 jobs), strict=True))  # fmt: skip
    finally:
        sink.terminate()
    runs = {
        name: sorted(
            (counts[(name, WARM + SENDS, a)] - counts[(name, WARM, a)]) / SENDS
            for a in range(REPEAT)
        )
        for name in configs
    }
    per_send = {name: statistics.median(found) for name, found in runs.items()}
    off = per_send["both off"]
    print(machine())
    table(f"Instructions of one send in the web process (callgrind, {SENDS} sends, median "
          f"of {REPEAT})", ["configuration", "instructions a send", "runs", "vs both off",
          "sends per CPU vs off"],
          [[name, f"{n / 1e6:.2f} M", " / ".join(f"{r / 1e6:.2f}" for r in runs[name]),
            f"{n / off:.2f}x", f"{off / n:.2f}x"] for name, n in per_send.items()])  # fmt: skip
    print(json.dumps(per_send))


if __name__ == "__main__":
    main()
