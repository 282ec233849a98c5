"""The README names only what exists: files, modules and their functions, task names,
management commands, make targets and environment variables."""

import importlib
import re

import pytest
from django.core.management import get_commands

from celery_app import app
from tests.servers import ROOT

README = (ROOT / "README.md").read_text()
# `code` spans of the README.
SPANS = set(re.findall(r"`([^`\n]+)`", README))
PACKAGES = ("accounts", "config", "core", "devtools", "jobs", "maintenance", "messaging")
# The project's own files: what a clone holds, without what running it leaves behind.
NOT_OURS = {".git", ".venv", ".local", "media", "staticfiles", "reports", "__pycache__"}
NOT_OURS |= {".hypothesis", ".schemathesis", ".pytest_cache", ".ruff_cache"}
TRACKED = [
    path.relative_to(ROOT).as_posix()
    for path in ROOT.rglob("*")
    if path.is_file() and not NOT_OURS & set(path.relative_to(ROOT).parts)
]
CODE = "\n".join(
    (ROOT / name).read_text(errors="replace")
    for name in TRACKED
    if not name.endswith((".md", ".po", ".mo", ".png", ".svg", ".json", ".pyc"))
)


def resolves(dotted: str) -> bool:
    """An importable module, or an attribute (at any depth) of one."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_path_the_readme_names_exists():
    top = {name.split("/")[0] for name in TRACKED if "/" in name}
    paths = {
        span.split(":")[0]
        for span in SPANS
        if re.fullmatch(r"[\w.-]+(/[\w.-]*)+", span) and span.split("/")[0] in top
    }
    assert len(paths) > 20
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []


def test_every_module_function_and_task_the_readme_names_exists():
    app.loader.import_default_modules()
    dotted = {
        span.removesuffix("()")
        for span in SPANS
        if re.fullmatch(r"(" + "|".join(PACKAGES) + r")(\.\w+)+(\(\))?", span)
    }
    assert len(dotted) > 5
    assert sorted(name for name in dotted if not (resolves(name) or name in app.tasks)) == []


def test_every_management_command_the_readme_names_exists():
    named = set(re.findall(r"manage\.py (\w+)", README))
    assert {"archive_old_records", "setup_schedules", "search_reindex"} <= named
    assert sorted(named - set(get_commands())) == []


def test_every_make_target_the_readme_names_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    named = set(re.findall(r"`make (\w+)", README))
    assert {"start", "test", "check"} <= named
    assert sorted(named - targets) == []


@pytest.mark.parametrize(
    "span", sorted(s for s in SPANS if re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", s))
)
def test_every_variable_the_readme_names_is_read_somewhere(span):
    # Settings, compose's and the scripts' variables alike: a name nothing reads is stale.
    assert re.search(rf"\b{span}\b", CODE), f"{span} is in the README but nothing reads it"


@pytest.mark.parametrize(
    "span",
    sorted(s.removesuffix("()") for s in SPANS if re.fullmatch(r"[a-z]\w*_\w+(\(\))?", s)),
)
def test_every_name_the_readme_gives_in_code_exists_in_the_code(span):
    # Functions, commands, fields, loggers and queues named bare (`count_for_user`).
    assert re.search(rf"\b{span}\b", CODE), f"{span} is in the README but not in the code"
