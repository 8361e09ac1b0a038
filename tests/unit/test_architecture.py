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
    from shared.settings import FUNCTION_ENV, RelaySettings

    publishing = {c.name for c in CHANNELS if c.publishes_stock}
    relay = WIRING.function("relay")
    env = {env_name_for_queue(q): f"https://sqs/{q}" for q in relay.sends_to}
    token = FUNCTION_ENV.set({**env, "CATALOG_TABLE": "c"})
    try:
        urls = RelaySettings().sync_queue_urls()  # type: ignore[call-arg]
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
