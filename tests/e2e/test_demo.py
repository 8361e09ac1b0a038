"""`keel demo`, as the README's first command runs it on a clone with nothing beside it (no
vendor specs: every other e2e test runs the sandboxes strict): its own checks must all pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.channels.registry import CHANNELS

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_keel_demo_exits_zero_with_a_clean_report(tmp_path: Path) -> None:
    absent = tmp_path / "no-specs-here"
    run = subprocess.run(
        [sys.executable, "-m", "keel_cli.main", "demo", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
        env={**os.environ, "KEEL_VENDOR_SPECS": str(absent)},
    )
    report = json.loads(run.stdout)
    assert report["problems"] == [], run.stderr[-2000:]
    assert run.returncode == 0
    said = [line for line in run.stderr.splitlines() if "vendor specs not found" in line]
    assert said == [
        f"vendor specs not found at {absent}: the sandboxes run on Keel's own definitions "
        "(strict request checking is off; tests and CI have the specs)"
    ]
    assert {r["sku"]: r["reserved"] for r in report["skus"]} == {
        # two mugs edited to three, tee + mug, one mug placed in the Shopify sandbox, one in
        # the second Shopify shop, one bought on bol.com (the one its buyer asked to cancel
        # came back), one each on Amazon.nl and Amazon.de (ORDER_CHANGE on Keel's queue)
        "KEEL-MUG-BLUE": 9,
        # tee + mug, two tees placed in WooCommerce, the tee the poll found (the refunded
        # tee came back)
        "KEEL-TEE-M": 4,
        "KEEL-LAMP": 2,  # the race's winner, and the loser once a lamp was received
    }
    # Every listing: two Shopify shops, Amazon's seller in two marketplaces, bol (one offer,
    # NL and BE), WooCommerce; each shows its derived quantity.
    listings = {
        "shopify",
        "shopify@keel-outlet",
        "amazon/nl",
        "amazon/de",
        "bol",
        "woocommerce",
    }
    assert {c.name for c in CHANNELS} <= {x.partition("@")[0].partition("/")[0] for x in listings}
    for rows in (report["skus"], report["skus_after_cap_change"], report["skus_after_shipping"]):
        for row in rows:
            assert set(row["channels"]) == listings
            assert all(v["shows"] == v["derived"] for v in row["channels"].values()), row
    mug = next(r for r in report["skus_after_cap_change"] if r["sku"] == "KEEL-MUG-BLUE")
    assert mug["channels"]["woocommerce"]["shows"] == report["cap_change"]["cap"] == 5
    sandbox_orders = [
        s for s in report["sent"] if s["label"].endswith(("WooCommerce", "Shopify", "Amazon"))
    ]
    assert {s["channel"] for s in sandbox_orders} == {"shopify", "woocommerce", "amazon"}
    assert [s["status"] for s in report["sent"] if s["label"] == "bad signature"] == [401]
    assert len(report["held_deliveries"]) == 1
    # The three WooCommerce mugs and the bol.com mug its buyer asked to cancel are back.
    cancelled = sorted(order.split(" ")[0] for order, _ in report["cancelled_orders"])
    assert cancelled == ["bol", "woocommerce"]
    (refunded,) = report["refunded_orders"]  # its tee is back on every channel
    assert refunded[0].startswith("woocommerce #") and "refund" in refunded[1]
    assert [s["status"] for s in report["sent"] if s["label"] == "poll: woocommerce"] == [200]
    # Every accepted order shipped: its channel holds the tracking number, its stock left.
    assert len(report["shipped"]) == 11
    assert all(tracking == shown for _, _, tracking, shown in report["shipped"])
    assert any(order.startswith("amazon ") for order, _, _, _ in report["shipped"])
    # The second shop's order was confirmed to that shop (its tracking number shown there).
    assert any(order.startswith("shopify@keel-outlet ") for order, _, _, _ in report["shipped"])
    assert {r["sku"]: (r["on_hand"], r["reserved"]) for r in report["skus_after_shipping"]} == {
        "KEEL-MUG-BLUE": (11, 0),
        "KEEL-TEE-M": (2, 0),
        "KEEL-LAMP": (0, 0),
    }
    reasons = sorted(reason.split(":")[0] for _, reason in report["held_orders"])
    assert reasons == ["unmatched line"]  # the lamp buyer held for stock was released
