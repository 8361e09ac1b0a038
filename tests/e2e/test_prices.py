"""Prices end to end on the local stack: a base price set once reaches all four channels, each
by its own rule (and bol's and Amazon's only once the channel confirms it); a typo waits for a
person, and only the approved decision goes out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli.main import main as keel
from local_stack.stack import LocalStack
from tests.e2e.conftest import Product, make_product

pytestmark = pytest.mark.e2e
CHANNELS = ("shopify", "woocommerce", "bol", "amazon")


def price_shown(stack: LocalStack, channel: str, sku: str) -> str | None:
    rows = httpx.get(f"{stack.sandbox_url(channel)}/__sandbox/listings", timeout=10).json()
    return next((r["price"] for r in rows if r["sku"] == sku), None)


def run(capsys: pytest.CaptureFixture[str], state: Path, *args: str) -> Any:
    capsys.readouterr()
    assert keel(["--state-file", str(state), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_base_price_reaches_every_channel_and_a_typo_waits_for_approval(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product: Product = make_product(stack, on_hand=5)
    sku = product.sku
    state = stack.write_state(tmp_path / "local.json")
    set_price = ["prices", "set", sku, "--base", "19.95", "--cost", "8.00", "--min-margin", "10"]
    launched = run(capsys, state, *set_price, "--max", "29.95", "--reason", "launch")
    assert {d["channel"]: d["status"] for d in launched["decisions"]} == dict.fromkeys(
        CHANNELS, "published"
    )
    ruled = run(capsys, state, "listings", "set", sku, "bol", "--markup", "15",
                "--rounding", ".99", "--reason", "bol commission")  # fmt: skip
    assert ruled["price_decisions"][0]["price"] == "22.99"
    assert stack.wait_idle(60)
    expected = {"shopify": "19.95", "woocommerce": "19.95", "bol": "22.99", "amazon": "19.95"}
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == expected
    (row,) = run(capsys, state, "prices", "show", sku)
    assert {x["channel"]: (x["price"], x["shown"]) for x in row["listings"]} == {
        c: (p, p) for c, p in expected.items()
    }  # shown: what each channel confirmed (bol and Amazon after their checks)
    assert all(x["floor"] == "8.80" and x["ceiling"] == "29.95" for x in row["listings"])

    typo = run(capsys, state, *set_price[:4], "1.99", *set_price[5:], "--reason", "typo")
    assert {d["status"] for d in typo["decisions"]} == {"pending"}
    assert all("over the 30 % step" in d["held_because"] for d in typo["decisions"])
    assert stack.wait_idle(30)
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == expected  # nothing went out
    pending = {d["channel"]: d["id"] for d in run(capsys, state, "prices", "pending")}
    assert set(pending) == set(CHANNELS)
    approved = run(capsys, state, "prices", "approve", pending["shopify"], "--actor", "bo")
    assert (approved["status"], approved["price"]) == ("approved", "8.80")  # at the floor
    for channel in ("woocommerce", "bol", "amazon"):
        run(capsys, state, "prices", "reject", pending[channel])
    assert run(capsys, state, "prices", "pending") == []
    assert stack.wait_idle(30)
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == expected | {"shopify": "8.80"}
    history = run(capsys, state, "prices", "history", sku)
    statuses = [(d["channel"], d["status"]) for d in history["decisions"]]
    assert ("shopify", "approved") in statuses and ("bol", "rejected") in statuses
    assert history["lowest_30_days"]["shopify"] == "19.95"  # before the reduction went live


def test_bad_prices_are_refused_and_change_nothing(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=1)
    state = stack.write_state(tmp_path / "local.json")
    base = ["--state-file", str(state), "prices", "set", product.sku, "--reason", "x"]
    assert keel([*base, "--base", "abc", "--cost", "1"]) == 2
    assert keel([*base, "--base", "10", "--cost", "-1"]) == 2
    assert keel([*base, "--base", "10.001", "--cost", "1"]) == 2
    assert keel([*base, "--base", "10", "--cost", "1", "--map", "20", "--max", "15"]) == 2
    assert keel(["--state-file", str(state), "prices", "set", "NO-SUCH-SKU", "--base", "1",
                 "--cost", "1", "--reason", "x"]) == 1  # fmt: skip
    capsys.readouterr()
    assert keel(["--state-file", str(state), "prices", "show", product.sku]) == 1
    dry = run(capsys, state, "prices", "set", product.sku, "--base", "12", "--cost", "5",
              "--reason", "try", "--dry-run")  # fmt: skip
    assert dry["dry_run"] and len(dry["decisions"]) == len(CHANNELS)
    assert keel(["--state-file", str(state), "prices", "show", product.sku]) == 1  # still none
    # a hostile operator: bad rules, a sale backwards, decisions that do not exist
    rules = ["--state-file", str(state), "listings", "set", product.sku, "bol", "--reason", "x"]
    assert keel([*rules, "--rounding", "1.5"]) == 2
    assert keel([*rules, "--markup", "abc"]) == 2
    assert keel([*rules, "--step", "-1"]) == 2
    sale = [*base, "--base", "10", "--cost", "1", "--sale", "8"]
    assert (
        keel([*sale, "--sale-start", "2026-12-24T00:00Z", "--sale-end", "2026-12-20T00:00Z"]) == 2
    )
    assert keel([*sale, "--sale-end", "2026-12-20T00:00Z"]) == 2
    assert keel([*sale, "--sale-start", "2026-12-24T00:00", "--sale-end", "2026-12-25T00:00"]) == 2
    assert keel(["--state-file", str(state), "prices", "approve", "pd-nope"]) == 1
    assert keel(["--state-file", str(state), "prices", "reject", "pd-nope"]) == 1
    assert keel(["--state-file", str(state), "prices", "history", product.sku]) == 0
    broken: list[tuple[str, Any]] = [
        ("amazon", {"sku": product.sku}),
        ("amazon", [1]),
        ("bol", {"sku": "NO-SUCH", "offers": []}),
        ("amazon", {"sku": product.sku, "offers": [{"price": "x"}]}),
    ]
    for channel, body in broken:
        answer = httpx.post(f"{stack.sandbox_url(channel)}/__sandbox/competitors", json=body,
                            timeout=10)  # fmt: skip
        assert answer.status_code in (400, 404), (channel, body, answer.text)
    assert stack.wait_idle(30)
    assert keel(["--state-file", str(state), "prices", "show", product.sku]) == 1  # still none


def compete(stack: LocalStack, sku: str, price: str) -> None:
    offers = [{"seller_id": "A2COMPETITOR", "price": price, "shipping": "0.00", "buy_box": True}]
    answer = httpx.post(f"{stack.sandbox_url('amazon')}/__sandbox/competitors",
                        json={"sku": sku, "offers": offers}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_an_amazon_undercut_moves_keels_price_within_the_rules_and_never_below_the_floor(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=5)
    sku = product.sku
    state = stack.write_state(tmp_path / "local.json")
    run(capsys, state, "prices", "set", sku, "--base", "19.95", "--cost", "10.00",
        "--max", "29.95", "--reason", "launch")  # fmt: skip
    run(capsys, state, "listings", "set", sku, "amazon", "--strategy", "beat-lowest",
        "--step", "0.10", "--reason", "win the Buy Box")  # fmt: skip
    assert stack.wait_idle(60)
    assert price_shown(stack, "amazon", sku) == "19.95"
    compete(stack, sku, "17.50")  # ANY_OFFER_CHANGED on Keel's queue, as Amazon sends it
    assert stack.wait_idle(60)
    assert price_shown(stack, "amazon", sku) == "17.40"
    assert price_shown(stack, "shopify", sku) == "19.95"  # other channels keep theirs
    compete(stack, sku, "13.00")
    assert stack.wait_idle(60)
    assert price_shown(stack, "amazon", sku) == "12.90"
    compete(stack, sku, "0.01")  # a penny: Keel follows to its floor and no further
    assert stack.wait_idle(60)
    assert price_shown(stack, "amazon", sku) == "10.00"
    history = run(capsys, state, "prices", "history", sku)
    repriced = [d for d in history["decisions"] if d["actor"] == "repricer"]
    assert [d["price"] for d in repriced] == ["17.40", "12.90", "10.00"]
    assert "clamped at the floor 10.00" in repriced[-1]["reason"]


def test_a_sale_starts_and_ends_on_time_on_every_channel(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    product = make_product(stack, on_hand=5)
    sku = product.sku
    state = stack.write_state(tmp_path / "local.json")
    start = datetime.now(UTC) + timedelta(seconds=3)
    end = start + timedelta(seconds=4)
    run(capsys, state, "prices", "set", sku, "--base", "19.95", "--cost", "5.00",
        "--sale", "14.95", "--sale-start", start.isoformat(), "--sale-end", end.isoformat(),
        "--reason", "weekend sale")  # fmt: skip
    assert stack.wait_idle(60)
    regular = dict.fromkeys(CHANNELS, "19.95")
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == regular
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 0.1)
    stack.fire_schedule("sales")  # as EventBridge Scheduler does each minute
    assert stack.wait_idle(60)
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == dict.fromkeys(CHANNELS, "14.95")
    rows = httpx.get(f"{stack.sandbox_url('shopify')}/__sandbox/listings", timeout=10).json()
    assert next(r["compare_at"] for r in rows if r["sku"] == sku) == "19.95"  # struck through
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.1)
    stack.fire_schedule("sales")
    assert stack.wait_idle(60)
    assert {c: price_shown(stack, c, sku) for c in CHANNELS} == regular


def test_a_bol_competitor_is_read_on_the_schedule_and_beaten_within_the_rules(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=5)
    sku = product.sku
    state = stack.write_state(tmp_path / "local.json")
    run(capsys, state, "prices", "set", sku, "--base", "19.99", "--cost", "10.00",
        "--max", "29.99", "--reason", "launch")  # fmt: skip
    run(capsys, state, "listings", "set", sku, "bol", "--strategy", "beat-lowest",
        "--step", "0.50", "--reason", "be the best offer")  # fmt: skip
    assert stack.wait_idle(60)
    assert price_shown(stack, "bol", sku) == "19.99"
    ean = product.refs["bol"]["ean"]
    others = [{"seller_id": "9876543", "price": "18.49"}]
    answer = httpx.post(f"{stack.sandbox_url('bol')}/__sandbox/competitors",
                        json={"sku": ean, "offers": others}, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    stack.fire_schedule("competitor-offers")
    assert stack.wait_idle(60)
    assert price_shown(stack, "bol", sku) == "17.99"
    stack.fire_schedule("competitor-offers")  # Keel's own offer is the best now: nothing moves
    assert stack.wait_idle(60)
    history = run(capsys, state, "prices", "history", sku)
    assert [d["price"] for d in history["decisions"] if d["actor"] == "repricer"] == ["17.99"]


def test_the_guards_limits_are_the_environments_one_for_every_function_and_the_cli(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=1)
    state = stack.write_state(tmp_path / "local.json")
    shown = run(capsys, state, "prices", "guard")
    assert shown == {"max_step_pct": "30", "max_changes_per_hour": 4, "blast_radius": 50,
                     "changed": False}  # fmt: skip
    assert keel(["--state-file", str(state), "prices", "guard", "--max-step", "0",
                 "--reason", "x"]) == 2  # fmt: skip
    changed = run(capsys, state, "prices", "guard", "--max-step", "50", "--reason", "big sale")
    assert changed["changed"] and changed["max_step_pct"] == "50"
    set_price = ["prices", "set", product.sku, "--cost", "1.00", "--reason", "x", "--base"]
    run(capsys, state, *set_price, "10.00")
    moved = run(capsys, state, *set_price, "6.00")  # -40 %: within the new step
    assert {d["status"] for d in moved["decisions"]} == {"published"}
    run(capsys, state, "prices", "guard", "--max-step", "30", "--reason", "sale over")
    held = run(capsys, state, *set_price, "10.00")  # +66 %
    assert {d["status"] for d in held["decisions"]} == {"pending"}
    audit = run(capsys, state, "audit", "list")
    assert sum("prices guard" in e["command"] for e in audit) == 2


def test_the_channels_fees_raise_the_floor_of_their_listings(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(stack, on_hand=1)
    state = stack.write_state(tmp_path / "local.json")
    run(capsys, state, "prices", "set", product.sku, "--base", "12.50", "--cost", "8.00",
        "--reason", "launch")  # fmt: skip
    fees = {r["channel"]: r for r in run(capsys, state, "prices", "fees", product.sku)}
    assert set(fees) == {"bol", "amazon"}  # the channels that say their fees
    assert (fees["bol"]["fee_pct"], fees["bol"]["fee_fixed"]) == ("12.00", "0.99")
    assert (fees["amazon"]["fee_pct"], fees["amazon"]["fee_fixed"]) == ("15.0", "0.00")
    (row,) = run(capsys, state, "prices", "show", product.sku)
    floors = {x["channel"]: x["floor"] for x in row["listings"]}
    # 8.00 / (1 - 0.15) = 9.42 on Amazon; (8.00 + 0.99) / 0.88 = 10.22 on bol; 8.00 elsewhere
    assert floors == {"shopify": "8.00", "woocommerce": "8.00", "bol": "10.22", "amazon": "9.42"}
