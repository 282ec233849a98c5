"""What a page makes the browser load: `python -m bench.page_weight` (issue 26).

For the inbox, a conversation and the new-conversation page: the JavaScript and CSS they
load (scripts, the modules those import, stylesheets), as files and gzipped, now and at
BASELINE (the commit before the chat, `BENCH_BASELINE` to change it), read from git. Then
the other way issue 26 weighed, htmx.org with its SSE extension: the libraries' minified
bytes, fetched from npm (`npm pack`), which that way would load on top of the page's own
code for drafts, reading, attention and times (htmx has none of those).
"""

import gzip
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from bench.common import setup, table

setup()

from django.test import Client  # noqa: E402

from devtools.factories import MessageFactory, UserFactory  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "messaging" / "static"
BASELINE = os.environ.get("BENCH_BASELINE", "9e571f7")
HTMX = {
    "htmx.org@2.0.11": "package/dist/htmx.min.js",
    "htmx-ext-sse@2.2.4": "package/dist/sse.min.js",
}
ASSET = re.compile(r'<(?:script[^>]*src|link rel="stylesheet" href)="/static/([^"]+)"')
IMPORT = re.compile(r'^import .* from "\./([^"]+)";', re.MULTILINE)


def now(path: str) -> bytes:
    return (STATIC / path).read_bytes()


def then(path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{BASELINE}:messaging/static/{path}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout


def assets(html: str, read) -> dict[str, bytes]:
    """The page's scripts and stylesheets, and every module they import, by path."""
    found, todo = {}, ASSET.findall(html)
    while todo:
        path = todo.pop()
        if path in found:
            continue
        found[path] = read(path)
        if path.endswith(".js"):
            folder = path.rsplit("/", 1)[0]
            todo += [f"{folder}/{name}" for name in IMPORT.findall(found[path].decode())]
    return found


def weigh(files: dict[str, bytes]) -> tuple[int, int, int, int]:
    js = [body for path, body in files.items() if path.endswith(".js")]
    css = [body for path, body in files.items() if path.endswith(".css")]
    return (
        sum(map(len, js)),
        sum(len(gzip.compress(b)) for b in js),
        sum(map(len, css)),
        sum(len(gzip.compress(b)) for b in css),
    )


def baseline_html() -> str:
    """The pages then loaded what base.html listed, the same on every page."""
    base = subprocess.run(
        ["git", "show", f"{BASELINE}:templates/base.html"], cwd=ROOT, capture_output=True
    ).stdout.decode()
    return "".join(
        f'<script src="/static/{p}">' for p in re.findall(r"static '([^']+\.(?:js|css))'", base)
    )


def htmx_bytes() -> tuple[int, int] | None:
    folder = Path(tempfile.mkdtemp(prefix="htmx-"))
    try:
        subprocess.run(
            ["npm", "pack", "--silent", *HTMX], cwd=folder, check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    raw = zipped = 0
    for archive in folder.glob("*.tgz"):
        with tarfile.open(archive) as tar:
            member = next(m for m in HTMX.values() if m in tar.getnames())
            body = tar.extractfile(member).read()
            raw, zipped = raw + len(body), zipped + len(gzip.compress(body))
    return raw, zipped


def main():
    me, pal = UserFactory(), UserFactory()
    MessageFactory(sender=pal, receiver=me)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(me)
    then_files = assets(baseline_html(), then)
    before = weigh(then_files)
    rows = []
    for name, url in [
        ("inbox", "/"),
        ("conversation", f"/people/{pal.pk}/"),
        ("new conversation", "/compose/"),
    ]:
        files = assets(client.get(url).content.decode(), now)
        after = weigh(files)
        rows.append(
            [
                name,
                len(files),
                f"{before[0]:,} / {before[1]:,}",
                f"{after[0]:,} / {after[1]:,}",
                f"{after[1] / before[1]:.2f}x",
                f"{before[2]:,} / {before[3]:,}",
                f"{after[2]:,} / {after[3]:,}",
                f"{after[3] / before[3]:.2f}x",
            ]
        )
    table(
        f"JavaScript and CSS a page loads, bytes / gzipped: {BASELINE} against now",
        ["page", "files now", "JS then", "JS now", "JS gz ratio", "CSS then", "CSS now", "ratio"],
        rows,
    )
    conversation = assets(client.get(f"/people/{pal.pk}/").content.decode(), now)
    own = weigh(conversation)
    lines = sum(body.count(b"\n") for p, body in conversation.items() if p.endswith(".js"))
    library = htmx_bytes()
    table(
        "The conversation's client: a plain ES module against htmx with its SSE extension",
        ["way", "library bytes / gzipped", "page's own JS / gzipped", "JS lines"],
        [
            ["plain ES modules (chosen)", "0 / 0", f"{own[0]:,} / {own[1]:,}", lines],
            [
                "htmx.org 2.0.11 + htmx-ext-sse 2.2.4",
                f"{library[0]:,} / {library[1]:,}" if library else "npm unreachable",
                "most of it still (drafts, reading, attention, times, optimistic send)",
                "",
            ],
        ],
    )


if __name__ == "__main__":
    main()
