"""The tables of docs/deploy.md that must not drift from the code, made from the wiring, the
channel and carrier registries and the environments' config: what runs, its queues, its
schedules, the secrets to fill (with their keys) and what each channel must deliver.

Each sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
`python -m infra.docs` writes them, tests/unit/test_docs_generated.py fails when the file is not
what this would write. Stdlib, pydantic and the wiring only (no CDK: the test stays fast)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from infra.ids import construct_id
from shared.carriers.registry import CARRIER_SPECS
from shared.channels.registry import CHANNELS
from shared.channels.spec import load
from shared.names import notification_queue
from shared.wiring import (
    WIRING,
    HttpRoute,
    QueueTrigger,
    ScheduleTrigger,
    StateMachineTask,
    StreamTrigger,
    Wiring,
)

DEPLOY_DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(.*?)(<!-- /generated:(?P=name) -->)", re.S
)


def _trigger(f: object) -> str:
    trigger = getattr(f, "trigger", None)
    if isinstance(trigger, HttpRoute):
        return f"`{trigger.method} {trigger.path}`"
    if isinstance(trigger, QueueTrigger):
        window = (
            f", window {trigger.max_batching_window_s} s" if trigger.max_batching_window_s else ""
        )
        most = f", at most {trigger.max_concurrency} at once" if trigger.max_concurrency else ""
        return f"queue `{trigger.queue}` (batches of {trigger.batch_size}{window}{most})"
    if isinstance(trigger, StreamTrigger):
        return f"`{trigger.table}` table stream"
    if isinstance(trigger, ScheduleTrigger):
        return f"schedule `{trigger.name}`, every {trigger.rate_minutes} min"
    if isinstance(trigger, StateMachineTask):
        return f"a task of `{trigger.state_machine}`"
    return "-"


def functions(wiring: Wiring = WIRING) -> str:
    rows = ["| Function (`keel-<env>-<name>`) | Trigger | Handler | Timeout |", "|---|---|---|---|"]
    for f in wiring.functions:
        rows.append(f"| `{f.name}` | {_trigger(f)} | `{f.handler}` | {f.timeout_s} s |")
    return "\n".join(rows)


def queues(wiring: Wiring = WIRING) -> str:
    rows = [
        "| Queue (`keel-<env>-<name>`) | Its DLQ | Receives before the DLQ | Visibility timeout |",
        "|---|---|---|---|",
    ]
    for q in wiring.queues:
        rows.append(
            f"| `{q.name}` | `{q.name}-dlq` | {q.max_receive_count} | {q.visibility_timeout_s} s |"
        )
    return "\n".join(rows)


def schedules(wiring: Wiring = WIRING) -> str:
    rows = ["| Schedule (`keel-<env>-<name>`) | Every | Runs | Its DLQ |", "|---|---|---|---|"]
    for f in wiring.functions:
        if isinstance(f.trigger, ScheduleTrigger):
            t = f.trigger
            rows.append(f"| `{t.name}` | {t.rate_minutes} min | `{f.name}` | `{t.name}-dlq` |")
    return "\n".join(rows)


def _keys(schema_path: str) -> str:
    model = load(schema_path)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return ", ".join(
        f"`{name}`" + ("" if field.is_required() else " (optional)")
        for name, field in model.model_fields.items()
    )


def secrets(wiring: Wiring = WIRING) -> str:
    rows = ["| Secret (`keel/<env>/<name>`) | Keys (the schema) |", "|---|---|"]
    by_name = {c.name: c for c in CHANNELS}
    for name in wiring.secrets:
        rows.append(f"| `{name}` | {_keys(by_name[name].secret_schema)} |")
    for name in wiring.carriers:
        rows.append(f"| `{name}` (carrier) | {_keys(CARRIER_SPECS[name].secret_schema)} |")
    return "\n".join(rows)


def secret_names(wiring: Wiring = WIRING) -> str:
    """The shell list the teardown and redeploy loops go over."""
    return '```sh\nSECRETS="' + " ".join((*wiring.secrets, *wiring.carriers)) + '"\n```'


def subscriptions() -> str:
    rows = ["| Channel | Delivers to | What to subscribe |", "|---|---|---|"]
    for c in CHANNELS:
        if c.receiver is not None:
            where = f"webhook `POST /webhooks/{c.name}` (output `WebhookUrl{construct_id(c.name)}`)"
        elif c.queue_receiver is not None:
            queue = notification_queue(c.name)
            where = f"SQS queue `{queue}` (output `Queue{construct_id(queue)}Arn`)"
        else:
            where = "nothing (polled only)"
        topics = ", ".join(f"`{t}`" for t in c.subscriptions) or "-"
        rows.append(f"| {c.name} | {where} | {topics} |")
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "functions": functions,
    "queues": queues,
    "schedules": schedules,
    "secrets": secrets,
    "secret_names": secret_names,
    "subscriptions": subscriptions,
}


def render(text: str) -> str:
    """`text` with every generated block made again."""

    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise KeyError(f"no generator for block {name!r}")
        return f"{match.group(1)}{GENERATORS[name]()}\n{match.group(4)}"

    return _BLOCK.sub(block, text)


def blocks(text: str) -> set[str]:
    return {m.group("name") for m in _BLOCK.finditer(text)}


def main() -> None:
    DEPLOY_DOC.write_text(render(DEPLOY_DOC.read_text()))
    print(f"wrote the generated tables of {DEPLOY_DOC}")


if __name__ == "__main__":
    main()
