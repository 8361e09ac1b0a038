"""Onboarding (#24) through `keel`, on a local stack started as `keel local up --seed merchant`
starts one: Keel empty, the sandboxes holding the merchant's listings, nothing delivered until
`keel channels connect`. Import, discover, link, connect; then a sale on one channel moves the
others."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_cli.main import main as keel
from local_stack.seed_merchant import CATALOG_FILE, seed_merchant
from local_stack.stack import LocalConfig, LocalStack, stores
from shared.domain.matching import DUPLICATE_SKU
from tests.e2e.conftest import shows

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = LocalConfig(prefix="e2e-onboard", visibility_timeout_s=1, log_level="CRITICAL",
                         timed_schedules=False, more_accounts={"shopify": 1})  # fmt: skip
    with LocalStack(config) as running:
        seed_merchant(running.listing_targets())
        yield running


@pytest.fixture(scope="module")
def state(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stack.write_state(tmp_path_factory.mktemp("onboard") / "local.json")


def run(state: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    capsys.readouterr()
    assert keel(["--state-file", str(state), *args, "--json"]) == code, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_1_a_bad_catalog_file_changes_nothing_and_says_where(
    stack: LocalStack, state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "catalog.csv"
    bad.write_text(CATALOG_FILE.read_text().replace("8712345000035", "8712345000036"))
    report = run(state, capsys, "catalog", "import", str(bad), code=1)
    assert report["problems"] == [
        {"line": 4, "field": "gtin", "sku": "KEEL-LAMP",
         "message": "GTIN '8712345000036' has a wrong check digit (expected 5)"},
    ]  # fmt: skip
    catalog, inventory, _ = stores(stack)
    assert catalog.products() == {} and inventory.levels() == []


def test_2_import_is_dry_run_first_then_real_then_idempotent(
    stack: LocalStack, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = run(state, capsys, "catalog", "import", str(CATALOG_FILE), "--dry-run")
    assert dry["dry_run"] and len(dry["created"]) == 5
    catalog, inventory, _ = stores(stack)
    assert catalog.products() == {}
    done = run(state, capsys, "catalog", "import", str(CATALOG_FILE))
    assert len(done["created"]) == 5 and sum(s["quantity"] for s in done["stock_received"]) == 40
    mug = inventory.get("KEEL-MUG-BLUE")
    assert mug is not None and (mug.on_hand, mug.safety_stock) == (20, 2)
    again = run(state, capsys, "catalog", "import", str(CATALOG_FILE))
    assert again["created"] == [] and again["changed"] == [] and again["unchanged"] == 5
    assert inventory.get("KEEL-MUG-BLUE").on_hand == 20


def test_3_discovery_matches_by_sku_and_gtin_and_reports_conflicts_and_strangers(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shopify = run(state, capsys, "channels", "discover", "shopify")
    assert {m["by"] for m in shopify["matched"]} == {"sku"} and len(shopify["matched"]) == 6
    (conflict,) = shopify["conflicts"]
    assert conflict["kind"] == DUPLICATE_SKU and conflict["skus"] == ["KEEL-POSTER"]
    woo = run(state, capsys, "channels", "discover", "woocommerce")
    assert {(m["sku"], m["by"]) for m in woo["matched"]} == {
        ("KEEL-MUG-BLUE", "sku"), ("KEEL-TEE-M", "gtin"), ("KEEL-LAMP", "sku"),
    }  # fmt: skip
    assert [x["sku"] for x in woo["unmatched_on_channel"]] == ["OLD-KEYCHAIN"]
    assert {x["sku"] for x in woo["unmatched_in_keel"]} == {"KEEL-POSTER", "KEEL-CAP"}
    bol = run(state, capsys, "channels", "discover", "bol")
    assert ("KEEL-LAMP", "gtin") in {(m["sku"], m["by"]) for m in bol["matched"]}


def test_4_link_every_channel_then_keels_stock_and_prices_reach_them(
    stack: LocalStack, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for channel in ("shopify", "woocommerce", "bol", "amazon"):
        linked = run(state, capsys, "channels", "link", channel, "--yes")
        assert linked["skipped"] == [], linked
    catalog, _, _ = stores(stack)
    mug = {x.key: x for x in catalog.listings_for("KEEL-MUG-BLUE")}
    assert len(mug) == 6  # 2 shops, Woo, bol, Amazon .nl and .de
    assert "KEEL-POSTER" not in {x.sku for x in catalog.all_listings()}  # the conflict waits
    woo_mug = mug["woocommerce"]
    _until(lambda: shows(stack, "woocommerce", woo_mug.refs["item_id"]) == 18)  # 20 - safety 2
    rows = httpx.get(f"{stack.sandbox_url('bol')}/__sandbox/listings", timeout=10).json()
    lamp = next(
        r for r in rows if r["listing_id"] == catalog.listing("KEEL-LAMP", "bol").refs["offer_id"]
    )
    assert lamp["price"] == "89.00"
    again = run(state, capsys, "channels", "discover", "shopify")
    assert again["matched"] == [] and len(again["already_linked"]) == 6


def test_5_nothing_arrives_until_connect_and_connect_twice_keeps_one_each(
    stack: LocalStack, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(state, capsys, "channels", "status", code=1)
    assert not any(entry["healthy"] for entry in status)
    for channel in ("shopify", "woocommerce", "bol", "amazon"):
        first = run(state, capsys, "channels", "connect", channel)
        actions = [s["action"] for rows in first["accounts"].values() for s in rows]
        assert set(actions) == {"created"}, first
        second = run(state, capsys, "channels", "connect", channel)
        actions = [s["action"] for rows in second["accounts"].values() for s in rows]
        assert set(actions) == {"kept"}, second
    status = run(state, capsys, "channels", "status")
    assert all(entry["healthy"] for entry in status)
    subs = httpx.get(f"{stack.sandbox_url('woocommerce')}/__sandbox/subscriptions", timeout=10)
    assert sorted(s["topic"] for s in subs.json()) == [
        "order.created", "order.deleted", "order.updated", "product.updated",
    ]  # fmt: skip


def test_6_a_sale_on_one_channel_moves_the_others(stack: LocalStack) -> None:
    catalog, inventory, _ = stores(stack)
    tee = {x.key: x for x in catalog.listings_for("KEEL-TEE-M")}
    body = {"lines": [{"sku": "KEEL-TEE-M", "quantity": 2, "refs": tee["woocommerce"].refs}]}
    placed = httpx.post(
        f"{stack.sandbox_url('woocommerce')}/__sandbox/orders/from-lines", json=body, timeout=10
    )
    assert placed.status_code == 200, placed.text
    _until(lambda: inventory.get("KEEL-TEE-M").reserved == 2)
    _until(lambda: shows(stack, "shopify", tee["shopify"].refs["variant_id"]) == 4)


def _until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time")
        time.sleep(0.2)
