"""Rules of the layout that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.wiring import WIRING, HttpRoute, QueueTrigger

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = ("boto3", "botocore", "httpx", "aws_lambda_powertools", "moto")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_domain_is_pure() -> None:
    for path in (ROOT / "shared/domain").glob("*.py"):
        leaked = _imports(path) & set(IO_MODULES)
        assert not leaked, f"{path.name} imports {leaked}"


def test_every_queue_consumer_has_a_visibility_timeout_of_six_times_its_timeout() -> None:
    for function in WIRING.functions:
        if isinstance(function.trigger, QueueTrigger):
            queue = WIRING.queue(function.trigger.queue)
            assert queue.visibility_timeout_s >= 6 * function.timeout_s, function.name


def test_wiring_references_only_declared_resources() -> None:
    tables = {t.name for t in WIRING.tables}
    queues = {q.name for q in WIRING.queues}
    for f in WIRING.functions:
        assert set(f.reads) | set(f.writes) <= tables, f.name
        assert set(f.sends_to) | set(f.dead_letters_to) <= queues, f.name
        assert set(f.secrets) <= set(WIRING.secrets), f.name
        assert set(f.carriers) <= set(WIRING.carriers), f.name
        machines = {m.name for m in WIRING.state_machines}
        assert set(f.starts) | set(f.answers) <= machines, f.name
    assert [f.trigger.path for f in WIRING.functions if isinstance(f.trigger, HttpRoute)] == [
        "/webhooks/{channel}",
        "/carriers/{carrier}",
    ]


def test_every_workflow_task_placeholder_names_a_task_function_and_the_asl_uses_them_all() -> None:
    from shared.wiring import ROOT, StateMachineTask

    for machine in WIRING.state_machines:
        text = (ROOT / machine.definition).read_text()
        for placeholder, function in machine.tasks.items():
            assert "${" + placeholder + "}" in text, placeholder
            trigger = WIRING.function(function).trigger
            assert trigger == StateMachineTask(machine.name), function
        tasks = {f.name for f in WIRING.functions if isinstance(f.trigger, StateMachineTask)}
        assert tasks == set(machine.tasks.values())


def test_every_publishing_channel_has_its_queue_function_and_relay_route() -> None:
    from shared.channels.registry import CHANNELS
    from shared.names import env_name_for_queue
    from shared.runtime import Runtime
    from shared.settings import FUNCTION_ENV

    publishing = {c.name for c in CHANNELS if c.publishes_stock}
    relay = WIRING.function("relay")
    env = {env_name_for_queue(q): f"https://sqs/{q}" for q in relay.sends_to}
    token = FUNCTION_ENV.set({**env, "CATALOG_TABLE": "c"})
    try:
        urls = Runtime().sync_queue_urls()
    finally:
        FUNCTION_ENV.reset(token)
    assert set(urls) == publishing
    for channel in publishing:
        consumer = WIRING.function(f"sync-{channel}")
        assert isinstance(consumer.trigger, QueueTrigger)
        assert consumer.trigger.queue == f"sync-{channel}"
        assert consumer.env == {"KEEL_CHANNEL": channel}
        assert consumer.handler == "functions.sync.handler:handler"
        assert urls[channel] == f"https://sqs/sync-{channel}"


def _modules(path: Path) -> set[str]:
    """Full module names `path` imports (`from a.b import c` -> a.b), at any depth."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _offenders(
    root: str, forbidden: tuple[str, ...], allowed_in_package: bool = False
) -> list[str]:
    found = []
    for path in sorted((ROOT / root).rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).parts[:2])
        for module in _modules(path):
            if module.startswith(forbidden):
                if allowed_in_package and module.startswith(package):
                    continue
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_the_layers_import_only_downwards() -> None:
    """Stores know no services or channels; channels no stores or services; a function no other
    function (what handlers share lives in shared/); services read no environment."""
    assert _offenders("shared/stores", ("shared.services", "shared.channels")) == []
    assert _offenders("shared/channels", ("shared.stores", "shared.services")) == []
    assert _offenders("functions", ("functions.",), allowed_in_package=True) == []
    environment = [
        f"{path.relative_to(ROOT)}"
        for path in sorted((ROOT / "shared/services").rglob("*.py"))
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    ]
    assert environment == []


def _project_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (at any depth: a function-level import still
    ties the two together)."""
    files: dict[str, Path] = {}
    for package in ("shared", "functions", "local_stack", "keel_cli", "infra", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for target in targets:
                pieces = target.split(".")
                for size in range(len(pieces), 0, -1):
                    candidate = ".".join(pieces[:size])
                    if candidate in files and candidate != name:
                        graph[name].add(candidate)
                        break
    return graph


def test_no_two_modules_import_each_other_round_a_cycle() -> None:
    graph = _project_imports()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []
