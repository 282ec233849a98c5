"""The code's shape: who may import whom (scripts/import_graph.py draws the graph)."""

import importlib.util
import subprocess
import sys

from tests.servers import ROOT, settings_variables


def load_import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, ()))
    return seen


def test_no_module_or_package_imports_itself_through_others():
    result = subprocess.run(
        [sys.executable, "scripts/import_graph.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "no cycles"


APPS = {"accounts", "files", "jobs", "messaging", "maintenance", "config", "celery_app"}


def test_the_plumbing_knows_no_app_and_each_app_only_those_below_it():
    # core <- accounts <- messaging, core <- jobs <- maintenance, core <- files <- maintenance;
    # messaging may run recorded jobs (its reconcile); no app knows maintenance.
    below = {
        "core": set(),
        "accounts": {"core"},
        "files": {"core"},
        "jobs": {"core", "celery_app"},
        "messaging": {"core", "accounts", "jobs"},
        "maintenance": {"core", "files", "jobs", "celery_app"},
    }
    edges = load_import_graph().graph()
    for name, targets in edges.items():
        package = name.split(".")[0]
        if package in below:
            apps = {t.split(".")[0] for t in targets} & APPS - {package}
            assert apps <= below[package], (name, apps - below[package])


def test_the_model_layer_does_not_import_the_api_framework():
    graph = load_import_graph()
    edges, paths = graph.graph(), graph.modules()
    for name in reachable(edges, "messaging.models"):
        assert "rest_framework" not in paths[name].read_text(), name


def test_the_write_path_and_its_events_do_not_import_the_api_layer():
    graph = load_import_graph()
    edges = graph.graph()
    for start in ("messaging.events", "messaging.effects", "messaging.services", "core.outbox"):
        reached = reachable(edges, start)
        assert not {name for name in reached if ".api" in name}, (start, reached)


def test_every_environment_variable_the_settings_read_is_in_the_readme():
    names = settings_variables()
    readme = (ROOT / "README.md").read_text()
    assert len(names) > 40
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
