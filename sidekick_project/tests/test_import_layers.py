"""The import direction between apps (README, Architecture), checked on the source with `ast`.

accounts ← integrations ← contacts, knowledge ← conversations ← changes ← insights ← evals ← assistant ← privacy

An app imports only apps of lower layers, never a sibling of its own layer or one above it, both at
module level and inside functions (a function-level import is still a dependency, only a hidden one).
`sidekick_project` (settings, urls, Celery, db helpers) is the frame around the apps: apps may use its
helpers, and only its urls and settings name the apps. Tests, migrations and the dev-only packages
(`testing`, `bench`) are outside the rule: an end-to-end test of a lower app may drive the whole stack.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [["accounts"], ["integrations"], ["contacts", "knowledge"], ["conversations"], ["changes"],
          ["insights"], ["evals"], ["assistant"], ["privacy"]]
LAYER = {app: n for n, apps in enumerate(LAYERS) for app in apps}
FRAME = "sidekick_project"
# What the frame may import from the apps: the URL tree and the settings (which name apps as strings).
FRAME_MAY_IMPORT_APPS = {"sidekick_project.urls", "sidekick_project.bench"}


def _runtime_modules() -> dict[str, Path]:
    modules = {}
    for top in [*LAYER, FRAME]:
        for path in sorted((ROOT / top).rglob("*.py")) if (ROOT / top).is_dir() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, at any depth, resolved to a known module."""
    found = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports pkg.mod when that is a module; otherwise a name of pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and (target, node.lineno) not in found:
                found.append((target, node.lineno))
    return found


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = _runtime_modules()
    known = set(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    problems = []
    for name, path in modules.items():
        app = name.split(".")[0]
        for target, line in _imports(name, path, known):
            graph[name].add(target)
            other = target.split(".")[0]
            if other == app:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if app == FRAME:
                if other in LAYER and name not in FRAME_MAY_IMPORT_APPS:
                    problems.append(f"{where}: the project frame reaches into an app")
            elif other == FRAME:
                continue
            elif LAYER[other] == LAYER[app]:
                problems.append(f"{where}: {app} and {other} share a layer and do not import each other")
            elif LAYER[other] > LAYER[app]:
                problems.append(f"{where}: upward ({app} is below {other})")
    return graph, problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def test_every_import_points_down_the_layers():
    _graph_, problems = _graph()
    assert not problems, "\n".join(problems)


def test_no_import_cycle_spans_two_apps():
    graph, _problems = _graph()
    spanning = [c for c in _cycles(graph) if len({m.split(".")[0] for m in c}) > 1]
    assert not spanning, "\n".join(" ↔ ".join(c) for c in spanning)


def test_within_an_app_only_the_task_module_closes_a_loop():
    """A service enqueues its app's task (imported inside the function) and the task calls the service:
    that loop is the one allowed. Without the task modules, no module loop remains."""
    graph, _problems = _graph()
    without_tasks = {m: {t for t in targets if not t.endswith(".tasks")}
                     for m, targets in graph.items() if not m.endswith(".tasks")}
    loops = _cycles(without_tasks)
    assert not loops, "\n".join(" ↔ ".join(c) for c in loops)


def test_the_checker_sees_upward_function_level_and_relative_imports(tmp_path):
    """The rule must be able to fail: an upward import inside a function, and a two-app loop."""
    known = {"contacts", "contacts.selectors", "conversations", "conversations.models", "integrations",
             "integrations.views"}
    source = tmp_path / "selectors.py"
    source.write_text("def threads():\n    from conversations.models import Thread\n    return Thread\n")
    assert _imports("contacts.selectors", source, known) == [("conversations.models", 2)]
    relative = tmp_path / "views.py"
    relative.write_text("from . import views\n")
    assert _imports("integrations.views", relative, known) == [("integrations.views", 1)]
    assert _cycles({"contacts.a": {"conversations.b"}, "conversations.b": {"contacts.a"}}) == [
        ["contacts.a", "conversations.b"]]
