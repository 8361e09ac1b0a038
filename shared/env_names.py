"""Environment variable names the functions are told their resources by (infra and the local
stack set them, handlers read them). Stdlib only, and apart from the wiring: the webhook reads
a secret's name without deriving the whole wiring at its cold start."""

from __future__ import annotations


def _upper(name: str) -> str:
    return name.upper().replace("-", "_")


def env_name_for_table(name: str) -> str:
    return f"{_upper(name)}_TABLE"


def env_name_for_queue(name: str) -> str:
    return f"{_upper(name)}_QUEUE_URL"


def env_name_for_dlq(name: str) -> str:
    return f"{_upper(name)}_DLQ_URL"


def env_name_for_bucket(name: str) -> str:
    return f"{_upper(name)}_BUCKET"


def env_name_for_secret(name: str) -> str:
    return f"{_upper(name)}_SECRET_NAME"


def env_name_for_state_machine(name: str) -> str:
    return f"{_upper(name)}_ARN"
