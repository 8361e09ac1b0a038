"""`keel catalog import`: a merchant's catalog file becomes Keel's SKUs, prices and opening stock.

All or nothing: the file is checked whole first (shared/domain/catalog_file.py) and a file with
any bad row changes nothing. Re-importing is idempotent: what the file says and Keel already
has is left alone; what differs is changed and reported as a diff.

Stock is the ledger's, not the file's: a SKU's `on_hand` enters the ledger once, as a receipt
referenced by the file, when Keel holds no stock movements for it yet (its opening balance).
After that Keel's ledger is the truth (orders have moved it since the file was written), so a
different `on_hand` or `safety_stock` in a later file is reported as not applied — counts go
through `keel stock adjust`, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from shared.domain.catalog_file import CatalogFile, CatalogRow
from shared.domain.inventory import Movement, MovementCause
from shared.domain.pricing import SkuPrice
from shared.services.pricing import Pricing, set_price
from shared.stores.ports import Inventory, Products


@dataclass(frozen=True)
class Change:
    sku: str
    field: str
    keel: str | None
    file: str | None
    why: str = ""  # set when the change is not applied


@dataclass
class ImportReport:
    file: str
    digest: str
    dry_run: bool
    problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    not_applied: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stock_received: list[dict[str, Any]] = field(default_factory=list)
    priced: int = 0  # listings whose price was decided again

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        def change(c: Change) -> dict[str, Any]:
            said = {"sku": c.sku, "field": c.field, "keel": c.keel, "file": c.file}
            return {**said, "why": c.why} if c.why else said

        return {
            "file": self.file,
            "digest": self.digest,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "problems": self.problems,
            "warnings": self.warnings,
            "created": self.created,
            "changed": [change(c) for c in self.changed],
            "not_applied": [change(c) for c in self.not_applied],
            "unchanged": len(self.unchanged),
            "stock_received": self.stock_received,
            "listings_repriced": self.priced,
        }


def receipt_reference(file_name: str, digest: str) -> str:
    """The ledger reference of a file's opening stock: its name and content (a receipt of the
    same file again is the same reference, so the ledger refuses it)."""
    return f"import:{PurePath(file_name).name}@{digest[:12]}"


def import_catalog(
    read: CatalogFile,
    file_name: str,
    products: Products,
    inventory: Inventory,
    pricing: Pricing,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> ImportReport:
    report = ImportReport(
        PurePath(file_name).name, read.digest, dry_run, warnings=list(read.warnings)
    )
    if not read.ok:
        report.problems = [
            {"line": p.line, "field": p.field, "message": p.message, "sku": p.sku}
            for p in read.problems
        ]
        return report
    known = products.products_detail()
    reference = receipt_reference(file_name, read.digest)
    for row in read.rows:
        before = len(report.changed)
        product = known.get(row.sku)
        if product is None:
            report.created.append(row.sku)
        else:
            for name, keel, wanted in (("name", product.title, row.name),
                                       ("gtin", product.gtin, row.gtin)):  # fmt: skip
                if wanted is not None and keel != wanted:
                    report.changed.append(Change(row.sku, name, keel, wanted))
        if not dry_run and (product is None or report.changed[before:]):
            products.put_product(row.sku, row.name, row.gtin or (product.gtin if product else None))
        _price(row, pricing, report, actor, dry_run)
        _stock(row, inventory, reference, report, actor, now, dry_run)
        if product is not None and len(report.changed) == before:
            report.unchanged.append(row.sku)
    return report


def _price(
    row: CatalogRow, pricing: Pricing, report: ImportReport, actor: str, dry_run: bool
) -> None:
    current = pricing.book.price(row.sku)
    if row.price is None and (row.cost is None or current is None):
        if row.cost is not None:
            report.warnings.append(f"{row.sku}: a cost without a price is not kept")
        return
    if current is None:
        assert row.price is not None
        wanted = SkuPrice(row.sku, row.price, row.cost or Decimal(0), row.currency)
        if row.cost is None:
            report.warnings.append(f"{row.sku}: no cost: its price floor protects no margin")
    else:
        wanted = replace(
            current,
            base=row.price if row.price is not None else current.base,
            cost=row.cost if row.cost is not None else current.cost,
            currency=row.currency,
        )
    for name in ("base", "cost", "currency"):
        keel, given = (getattr(current, name) if current else None), getattr(wanted, name)
        if keel != given:
            label = "price" if name == "base" else name
            report.changed.append(
                Change(row.sku, label, None if keel is None else str(keel), str(given))
            )
    if wanted != current:
        run = set_price(pricing, wanted, actor, f"catalog import {report.file}", dry_run)
        report.priced += len(run.decisions)


def _stock(
    row: CatalogRow,
    inventory: Inventory,
    reference: str,
    report: ImportReport,
    actor: str,
    now: datetime,
    dry_run: bool,
) -> None:
    level = inventory.get(row.sku)
    moved = bool(inventory.ledger(row.sku)) if level is not None else False
    if moved:
        assert level is not None
        if any(m.reference == reference for m in inventory.ledger(row.sku)):
            return  # this file's own receipt: re-imported
        why = "Keel's ledger holds this SKU's stock now; count it with `keel stock adjust`"
        counts = (
            ("on_hand", level.on_hand, row.on_hand),
            ("safety_stock", level.safety_stock, row.safety_stock),
        )
        for name, keel, given in counts:
            if given is not None and given != keel:
                report.not_applied.append(Change(row.sku, name, str(keel), str(given), why))
        return
    if not row.on_hand:
        if row.safety_stock:
            report.warnings.append(
                f"{row.sku}: safety stock {row.safety_stock} is set with its first receipt"
            )
        return
    report.stock_received.append({"sku": row.sku, "quantity": row.on_hand, "reference": reference})
    report.changed.append(Change(row.sku, "on_hand", "0", str(row.on_hand)))
    if not dry_run:
        inventory.receive(
            Movement(row.sku, MovementCause.RECEIPT, row.on_hand, reference, actor, now),
            safety_stock=row.safety_stock or 0,
        )
