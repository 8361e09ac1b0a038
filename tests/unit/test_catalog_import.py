"""`keel catalog import` as a service over the in-memory stores: all or nothing, idempotent, a
diff, opening stock as a receipt referenced by the file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.domain.catalog_file import read_catalog
from shared.domain.inventory import MovementCause
from shared.domain.listings import Listing
from shared.domain.pricing import Guard
from shared.services.catalog_import import import_catalog, receipt_reference
from shared.services.pricing import Pricing
from tests.fakes.prices import MemoryPriceBook
from tests.fakes.stores import MemoryStores

NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
FILE = (
    "sku,name,gtin,cost,price,currency,on_hand,safety_stock\n"
    "MUG,Blue mug,4006381333931,4.10,12.50,EUR,20,2\n"
    "TEE,T-shirt,,9.00,24.95,EUR,6,\n"
    "LAMP,Desk lamp,,,,,,\n"
)


def run(
    raw: str, stores: MemoryStores, book: MemoryPriceBook, dry_run: bool = False
) -> dict[str, Any]:
    pricing = Pricing(book, stores.catalog.listings_for, Guard(), lambda: NOW)
    read = read_catalog(raw.encode(), "catalog.csv")
    report = import_catalog(
        read, "/tmp/x/catalog.csv", stores.catalog, stores.inventory, pricing, "ops", NOW, dry_run
    )
    return report.as_dict()


def world() -> tuple[MemoryStores, MemoryPriceBook]:
    return MemoryStores(), MemoryPriceBook()


def test_a_first_import_creates_skus_prices_and_opening_stock_referenced_by_the_file() -> None:
    stores, book = world()
    report = run(FILE, stores, book)
    assert report["ok"] and report["created"] == ["MUG", "TEE", "LAMP"]
    products = stores.catalog.products_detail()
    assert products["MUG"].gtin == "04006381333931" and products["LAMP"].title == "Desk lamp"
    assert book.price("MUG") is not None and book.price("MUG").base == Decimal("12.50")  # type: ignore[union-attr]
    assert book.price("LAMP") is None
    mug = stores.inventory.get("MUG")
    assert mug is not None and (mug.on_hand, mug.safety_stock) == (20, 2)
    (movement,) = stores.inventory.ledger("MUG")
    assert movement.cause is MovementCause.RECEIPT
    assert movement.reference == receipt_reference("catalog.csv", report["digest"])
    assert movement.reference.startswith("import:catalog.csv@")


def test_re_importing_the_same_file_changes_nothing_and_says_so() -> None:
    stores, book = world()
    run(FILE, stores, book)
    again = run(FILE, stores, book)
    assert again["created"] == [] and again["changed"] == [] and again["unchanged"] == 3
    assert again["stock_received"] == []
    assert stores.inventory.get("MUG").on_hand == 20  # type: ignore[union-attr]


def test_a_changed_file_prints_the_diff_and_leaves_the_ledger_to_keel() -> None:
    stores, book = world()
    run(FILE, stores, book)
    changed = FILE.replace(
        "Blue mug,4006381333931,4.10,12.50,EUR,20,2", "Blue mug XL,,4.10,13.95,EUR,25,2"
    )
    report = run(changed, stores, book)
    assert {(c["sku"], c["field"], c["keel"], c["file"]) for c in report["changed"]} == {
        ("MUG", "name", "Blue mug", "Blue mug XL"), ("MUG", "price", "12.50", "13.95"),
    }  # fmt: skip
    (kept,) = report["not_applied"]
    assert (kept["field"], kept["keel"], kept["file"]) == ("on_hand", "20", "25")
    assert "keel stock adjust" in kept["why"]
    assert stores.inventory.get("MUG").on_hand == 20  # type: ignore[union-attr]
    assert stores.catalog.products_detail()["MUG"].gtin == "04006381333931"  # kept: not given


def test_a_file_with_one_bad_row_changes_nothing() -> None:
    stores, book = world()
    bad = FILE + "CAP,Cap,4006381333932,,,,,\n"
    report = run(bad, stores, book)
    assert not report["ok"]
    assert report["problems"] == [
        {"line": 5, "field": "gtin", "sku": "CAP",
         "message": "GTIN '4006381333932' has a wrong check digit (expected 1)"},
    ]  # fmt: skip
    assert stores.catalog.products_detail() == {} and book.prices() == []
    assert stores.inventory.levels() == []


def test_a_dry_run_reports_the_same_and_writes_nothing() -> None:
    stores, book = world()
    report = run(FILE, stores, book, dry_run=True)
    assert report["dry_run"] and report["created"] == ["MUG", "TEE", "LAMP"]
    assert [s["quantity"] for s in report["stock_received"]] == [20, 6]
    assert stores.catalog.products_detail() == {} and book.prices() == []
    assert stores.inventory.levels() == []


def test_a_new_price_reaches_the_skus_listings() -> None:
    stores, book = world()
    run(FILE, stores, book)
    stores.catalog.list(Listing("MUG", "shopify", {"variant_id": "1"}))
    report = run(FILE.replace("12.50", "14.50"), stores, book)
    assert report["listings_repriced"] == 1
    assert book.targets("MUG")["shopify"].price == Decimal("14.50")
