"""docs/deploy.md's tables of functions, queues, schedules, secrets and subscriptions are what
the wiring and the registries say: a change to either that the doc does not follow fails here
(`python -m infra.docs` writes them again)."""

from __future__ import annotations

from infra.docs import DEPLOY_DOC, GENERATORS, blocks, render
from shared.carriers.registry import CARRIER_SPECS
from shared.channels.registry import CHANNELS
from shared.wiring import WIRING


def test_the_deploy_doc_is_what_the_wiring_and_registries_give() -> None:
    text = DEPLOY_DOC.read_text()
    assert blocks(text) == set(GENERATORS)
    assert render(text) == text, "run `python -m infra.docs` and commit docs/deploy.md"


def test_every_channel_function_queue_and_secret_is_in_the_doc() -> None:
    text = DEPLOY_DOC.read_text()
    for channel in CHANNELS:
        assert f"| {channel.name} |" in text and channel.subscriptions
        for topic in channel.subscriptions:
            assert f"`{topic}`" in text
    for function in WIRING.functions:
        assert f"| `{function.name}` |" in text
    for queue in WIRING.queues:
        assert f"| `{queue.name}` | `{queue.name}-dlq` |" in text
    for name in (*WIRING.secrets, *CARRIER_SPECS):
        assert f"| `{name}`" in text


def test_render_makes_a_changed_table_again() -> None:
    stale = "x\n<!-- generated:queues -->\n| old |\n<!-- /generated:queues -->\ny\n"
    fresh = render(stale)
    assert "| old |" not in fresh and "`ingest` | `ingest-dlq`" in fresh
    assert fresh.startswith("x\n") and fresh.endswith("y\n")
