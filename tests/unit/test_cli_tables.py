"""`keel stock show` stays readable at 80 columns: one row per SKU, a column per listing (the
demo's six: two Shopify shops, Amazon in two marketplaces, bol, WooCommerce)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from keel_cli import main as cli

ROW = {
    "sku": "KEEL-MUG-BLUE",
    "on_hand": 20,
    "reserved": 1,
    "safety_stock": 2,
    "available": 17,
    "listings": [
        {
            "channel": label.partition("@")[0].partition("/")[0],
            "ids": {"id": f"{label.replace('/', '-')}-" + "9" * 30},
            "derived_quantity": 17,
            "account": "",
            "marketplace": "",
            "countries": ["NL", "BE"] if label == "bol" else [],
            "label": label,
        }
        for label in (
            "amazon/nl",
            "amazon/de",
            "bol",
            "shopify",
            "shopify@keel-outlet",
            "woocommerce",
        )
    ],
}


@pytest.mark.parametrize("detail", [False, True])
def test_stock_fits_80_columns(monkeypatch: pytest.MonkeyPatch, detail: bool) -> None:
    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(cli, "console", console)
    cli._print_stock([ROW, {**ROW, "sku": "KEEL-TEE-M"}], detail=detail)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "KEEL-MUG-BLUE" in text and "KEEL-TEE-M" in text
    assert (
        "amazon-de-" + "9" * 30 in text.replace("\n", "").replace("│", "").replace(" ", "")
    ) == detail
