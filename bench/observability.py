"""Issue 31: what metrics and traces cost a send, in one run.

    python -m bench.observability   # BENCH_RATES (100), BENCH_RATE_SECONDS (10),
                                    # BENCH_ROUNDS (4)

Five builds of this tree, each with its own database, redis-server, stream server, worker
and relay (bench/sends.py), started side by side and measured in turn:

- **off**: no METRICS_PORT, no OTEL_EXPORTER_OTLP_ENDPOINT;
- **metrics**: every process records, each role serves its port (gunicorn's master through
  config/gunicorn.py), and this process scrapes them all every 5 s (Prometheus's default is
  15 s);
- **metrics + traces**: and every process exports its spans (OTLP over HTTP, batched) to a
  collector in this process that reads and drops them, every trace sampled (the SDK's
  default);
- **metrics + traces without SQL and Redis spans**: every trace, with
  OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=psycopg,redis (the request, task, publish and push
  spans only);
- **metrics + traces, 10 % sampled**: every instrumentation, with OTEL_TRACES_SAMPLER=
  parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG=0.1, as a busy deployment runs it.

For each: open-loop sends at each rate (POST p50/p99, saved -> pushed p99), then sends
saturated in a closed loop (wrk, 2 connections) with the web server's CPU per send, the
builds alternated BENCH_ROUNDS times (the median of each kept), then the memory of each
role's processes. Everything shares the machine's 2 cores: a trace's cost in the worker,
the relay and the stream server is paid by the web server's throughput here.

And the middleware, in-process (no server): CPU per request of core.middleware.RequestMetrics
against django-prometheus's two middlewares, around the same trivial view.
"""

import os
import statistics
import threading
import time
import urllib.request

from bench.common import machine, table
from bench.processes import ROOT, cpu_seconds, rss_mb, wrk
from bench.sends import Build, sends
from devtools.collector import Collector

RATES = [int(r) for r in os.environ.get("BENCH_RATES", "100").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))


class Scraper:
    """Scrape every metrics port of the builds every `every` seconds, as Prometheus would."""

    def __init__(self, builds: list[Build], every: float = 5.0):
        self.ports = [p for b in builds if b.metrics for p in b.metrics_ports.values()]
        self.every, self.stop, self.scrapes = every, threading.Event(), 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop.wait(self.every):
            for port in self.ports:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
                    self.scrapes += 1
                except OSError:
                    pass


def memory(build: Build, web) -> dict:
    return {
        "web": rss_mb(web.pid),
        "events": rss_mb(build.processes[0].pid),
        "worker": rss_mb(build.worker.pid),
        "relay": rss_mb(build.relay.pid),
    }


def middleware() -> dict:
    """µs of CPU per request through each metrics middleware around a trivial view."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench")
    import django

    django.setup()
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve
    from django_prometheus.middleware import (
        PrometheusAfterMiddleware,
        PrometheusBeforeMiddleware,
    )

    from core.middleware import RequestMetrics

    request = RequestFactory().get("/api/v1/messages/")

    def view(request):
        request.resolver_match = resolve("/api/v1/messages/")
        return HttpResponse(b"ok")

    chains = {
        "none": view,
        "core.middleware.RequestMetrics": RequestMetrics(view),
        "django-prometheus (before + after)": PrometheusBeforeMiddleware(
            PrometheusAfterMiddleware(view)
        ),
    }
    found = {}
    for _ in range(2):  # the second pass is measured, the first warms
        for name, chain in chains.items():
            count = 20000
            started = time.process_time()
            for _ in range(count):
                chain(request)
            found[name] = (time.process_time() - started) / count * 1e6
    return found


def main() -> None:
    sink = Collector(keep=False)
    builds = [
        Build("off", ROOT),
        Build("metrics", ROOT, metrics=True),
        Build("traces", ROOT, metrics=True, env={"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url}),
        Build(
            "lean",
            ROOT,
            metrics=True,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "psycopg,redis",
            },
        ),
        Build(
            "sampled",
            ROOT,
            metrics=True,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            },
        ),
    ]
    results: dict[str, dict] = {}
    webs = {}
    try:
        for build in builds:
            build.start()
            webs[build.name] = build.serve("sync")
        scraper = Scraper(builds)
        for build in builds:
            web, port = webs[build.name]
            sends(build, port, web, 50, seconds=2)  # warm
            results[build.name] = {"runs": {rate: sends(build, port, web, rate) for rate in RATES}}
        tokens = {b.name: ",".join(b.data["tokens"]) for b in builds}
        users = {b.name: ",".join(map(str, b.data["ids"])) for b in builds}

        closed = {b.name: [] for b in builds}
        for _ in range(ROUNDS):  # alternated: the machine's drift spread over all
            for build in builds:
                web, port = webs[build.name]
                before = cpu_seconds(web.pid)
                rps, p50, p99, errors = wrk(port, "send.lua", seconds=8, connections=2,
                                            TOKENS=tokens[build.name],
                                            USERS=users[build.name])  # fmt: skip
                cpu_ms = (cpu_seconds(web.pid) - before) * 1000 / (rps * 8)
                closed[build.name].append((rps, p50, p99, errors, cpu_ms))
                build.settled(0, seconds=60)
        for build in builds:
            runs = closed[build.name]
            results[build.name]["closed"] = {
                "rps": statistics.median(r[0] for r in runs),
                "p99": statistics.median(r[2] for r in runs),
                "errors": sum(r[3] for r in runs),
                "cpu_ms": statistics.median(r[4] for r in runs),
            }
            results[build.name]["memory"] = memory(build, webs[build.name][0])
        scraper.stop.set()
    finally:
        for build in builds:
            if build.name in webs:
                webs[build.name][0].terminate()
                webs[build.name][0].wait()
            build.stop()
    report(results, middleware(), scraper.scrapes, sink.exports)


def report(results: dict, middlewares: dict, scrapes: int, exports: int) -> None:
    print(machine())
    print(f"gunicorn sync, 2 processes; open loop {RATES} sends/s; closed loop wrk 2 "
          f"connections 8 s; {scrapes} scrapes, {exports} OTLP exports received\n")  # fmt: skip
    names = {
        "off": "both off",
        "metrics": "metrics on, traces off",
        "traces": "both on (every trace)",
        "lean": "both on (every trace, no SQL or Redis spans)",
        "sampled": "both on (10 % of traces)",
    }
    base = results["off"]
    rows = []
    for name, found in results.items():
        for rate, r in found["runs"].items():
            rows.append([names[name], rate, f"{r['achieved']:.0f}", r["errors"],
                         f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                         f"{r['p99'] / base['runs'][rate]['p99']:.2f}x",
                         f"{r['pushed']:.1f}", f"{r['web_cpu_ms']:.2f}"])  # fmt: skip
    table("Open-loop sends", ["build", "offered/s", "achieved/s", "errors", "POST p50 ms",
          "POST p99 ms", "p99 vs off", "saved -> pushed p99 ms", "web CPU ms a send"],
          rows)  # fmt: skip
    rows = []
    for name, found in results.items():
        c, off = found["closed"], base["closed"]
        rows.append([names[name], f"{c['rps']:.0f}", f"{c['rps'] / off['rps']:.2f}x",
                     f"{c['p99']:.1f}", f"{c['cpu_ms']:.2f}",
                     f"{off['cpu_ms'] / c['cpu_ms']:.2f}x", c["errors"]])  # fmt: skip
    table(f"Sends saturated (closed loop, median of {ROUNDS} alternated rounds)",
          ["build", "sends/s", "vs both off", "p99 ms", "web CPU ms a send",
           "sends per web CPU second vs both off", "non-2xx"], rows)  # fmt: skip
    rows = []
    for name, found in results.items():
        mem = found["memory"]
        rows.append([names[name], *(f"{mem[role]:.0f}" for role in mem),
                     f"{sum(mem.values()):.0f}",
                     f"{sum(mem.values()) - sum(base['memory'].values()):+.0f}"])  # fmt: skip
    table("Memory (RSS MB, each role's processes together)", ["build", "web (master + 2)",
          "events (master + 1)", "worker (main + 2)", "relay", "all", "vs both off"],
          rows)  # fmt: skip
    none = middlewares["none"]
    table(
        "Metrics middleware, in-process (CPU µs a request around a trivial view)",
        ["middleware", "µs a request", "added"],
        [[name, f"{us:.1f}", f"{us - none:+.1f}"] for name, us in middlewares.items()],
    )


if __name__ == "__main__":
    main()
