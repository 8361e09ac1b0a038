"""What a Keel stack tells its operators, as CloudFormation outputs named from the wiring.

The CDK stack writes these outputs; the local stack writes the same keys into `.keel/local.json`
(`outputs`); `keel` reads either through `target_from_outputs`, so every command takes one path
whether it runs against the embedded stack or a deployed environment (`keel --env prod`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from shared.wiring import WIRING, Wiring, stream_failure_queue


def construct_id(logical_name: str) -> str:
    """`sync-woocommerce` -> `SyncWoocommerce` (stable logical ids and output keys)."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", logical_name) if part)


def table_key(name: str) -> str:
    return f"Table{construct_id(name)}Name"


def queue_url_key(name: str) -> str:
    return f"Queue{construct_id(name)}Url"


def dlq_url_key(name: str) -> str:
    return f"Dlq{construct_id(name)}DlqUrl"


def stream_failures_url_key(function_name: str) -> str:
    return f"Dlq{construct_id(function_name)}StreamFailuresUrl"


def state_machine_key(name: str) -> str:
    return f"StateMachine{construct_id(name)}Arn"


def function_key(name: str) -> str:
    return f"Function{construct_id(name)}Name"


def secret_key(name: str) -> str:
    return f"Secret{construct_id(name)}"


def account_secrets_key(channel: str) -> str:
    """A JSON list of the secrets of a channel's further accounts (only when it has some)."""
    return f"Secret{construct_id(channel)}Accounts"


def bucket_key(name: str) -> str:
    return f"Bucket{construct_id(name)}Name"


REGION = "Region"
API_URL = "ApiUrl"
DASHBOARD = "DashboardName"
ALARM_TOPIC = "AlarmTopicArn"
ALARM_PREFIX = "AlarmNamePrefix"  # every alarm of the environment is named with it


def stream_functions(wiring: Wiring = WIRING) -> list[str]:
    from shared.wiring import StreamTrigger

    return [f.name for f in wiring.functions if isinstance(f.trigger, StreamTrigger)]


def target_from_outputs(outputs: Mapping[str, str], wiring: Wiring = WIRING) -> dict[str, Any]:
    """The stack's resources by wiring name, shaped as `.keel/local.json` names them (tables,
    queues, dead_letter_queues, state_machines, functions, secrets, buckets, region). A missing
    output raises KeyError naming it: a stack deployed from an older Keel, to be redeployed."""

    def need(key: str) -> str:
        if key not in outputs:
            raise KeyError(f"the stack has no output {key!r}: deploy this version of Keel")
        return outputs[key]

    queues = {q.name: need(queue_url_key(q.name)) for q in wiring.queues}
    dead_letters = {q.name: need(dlq_url_key(q.name)) for q in wiring.queues}
    for function in stream_functions(wiring):
        dead_letters[stream_failure_queue(function)] = need(stream_failures_url_key(function))
    more = {
        channel: json.loads(outputs[account_secrets_key(channel)])
        for channel in wiring.secrets
        if account_secrets_key(channel) in outputs
    }
    return {
        "region": need(REGION),
        "tables": {t.name: need(table_key(t.name)) for t in wiring.tables},
        "queues": queues,
        "dead_letter_queues": dead_letters,
        "state_machines": {m.name: need(state_machine_key(m.name)) for m in wiring.state_machines},
        "functions": {f.name: need(function_key(f.name)) for f in wiring.functions},
        "secrets": {s: need(secret_key(s)) for s in (*wiring.secrets, *wiring.carriers)},
        "account_secrets": more,
        "buckets": {b.name: need(bucket_key(b.name)) for b in wiring.buckets},
        **({"api_url": outputs[API_URL]} if API_URL in outputs else {}),
        **({"dashboard": outputs[DASHBOARD]} if DASHBOARD in outputs else {}),
        **({"alarm_prefix": outputs[ALARM_PREFIX]} if ALARM_PREFIX in outputs else {}),
    }


def outputs_of(target: Mapping[str, Any], wiring: Wiring = WIRING) -> dict[str, str]:
    """The outputs a stack with these resources publishes (the local stack's, from its state):
    the inverse of `target_from_outputs`."""
    outputs = {REGION: str(target["region"])}
    outputs.update({table_key(k): v for k, v in target["tables"].items()})
    outputs.update({queue_url_key(k): v for k, v in target["queues"].items()})
    streams = {stream_failure_queue(f): f for f in stream_functions(wiring)}
    for name, url in target["dead_letter_queues"].items():
        key = stream_failures_url_key(streams[name]) if name in streams else dlq_url_key(name)
        outputs[key] = url
    outputs.update({state_machine_key(k): v for k, v in target["state_machines"].items()})
    outputs.update({function_key(k): v for k, v in target["functions"].items()})
    outputs.update({secret_key(k): v for k, v in target["secrets"].items()})
    for channel, names in target.get("account_secrets", {}).items():
        outputs[account_secrets_key(channel)] = json.dumps(names)
    outputs.update({bucket_key(k): v for k, v in target["buckets"].items()})
    if "alarm_prefix" in target:
        outputs[ALARM_PREFIX] = str(target["alarm_prefix"])
    return outputs


def runtime_env(target: Mapping[str, Any]) -> dict[str, str]:
    """The environment a Runtime needs to act on an environment from outside it (`keel`, the
    demo): its tables, and every channel's and carrier's secret names (their adapters)."""
    from shared.settings import env_prefix

    tables = target["tables"]
    env = {f"{name.upper()}_TABLE": tables[name] for name in ("catalog", "inventory", "orders")}
    for owner, name in target.get("secrets", {}).items():
        env[f"{env_prefix(owner)}SECRET_NAME"] = name
        more = target.get("account_secrets", {}).get(owner, [])
        env[f"{env_prefix(owner)}ACCOUNT_SECRET_NAMES"] = json.dumps(more)
    return env
