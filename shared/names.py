"""Names the wiring gives things, that handlers need too: the environment variables functions
are told their resources by (infra and the local stack set them, handlers read them) and the
per-channel queues. Stdlib only, and apart from the wiring: a handler that needs a name does not
derive the whole wiring at its cold start."""

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


def env_name_for_account_secrets(name: str) -> str:
    """A JSON list of the secrets of a channel's further accounts (the first's: above)."""
    return f"{_upper(name)}_ACCOUNT_SECRET_NAMES"


def env_name_for_state_machine(name: str) -> str:
    return f"{_upper(name)}_ARN"


# Receives of an ingest message before it goes to the DLQ (the wiring's redrive policy): the
# last one dead-letters the delivery itself, with the error that kept failing it.
INGEST_MAX_RECEIVES = 5


def sync_queue(channel: str) -> str:
    return f"sync-{channel}"


def notification_queue(channel: str) -> str:
    """Where a channel that delivers to a queue (spec.QueueReceiver) sends its deliveries."""
    return f"notifications-{channel}"
