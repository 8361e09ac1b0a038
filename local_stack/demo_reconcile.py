"""The demo's end: the merchant edits channels by hand and a webhook dies, and reconciliation
(issue #25) puts it right, then proves it.

- In WooCommerce's admin the mug is set to 99 and 1.00 by hand, silently (the webhook that would
  have told Keel is the one that died); in bol's dashboard the lamp is set to 0.
- WooCommerce disables Keel's `order.created` webhook (as after 5 failed deliveries), and a
  T-shirt sells there: nobody tells Keel.
- `reconcile` (each channel's function, as `keel reconcile` runs it) finds the drift, confirms
  each candidate with a read of its own, repairs it through the sync queues, re-arms the
  webhook, and polls in the order it missed. A second run, once the repairs landed, finds zero
  drift on every channel, and Keel's books hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from local_stack.demo_amazon import wait_for_accepted_writes
from local_stack.stack import LocalStack, stores
from shared.aws import invoke_json
from shared.wiring import BOOKS_CHECK

MUG, LAMP, TEE = "KEEL-MUG-BLUE", "KEEL-LAMP", "KEEL-TEE-M"
Refs = dict[str, dict[str, dict[str, str]]]  # sku -> channel -> listing refs


@dataclass
class ReconcileReport:
    first: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> its report
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    books: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"first": self.first, "final": self.final, "books": self.books}


def hand_edits_and_a_dead_webhook(
    stack: LocalStack, refs: Refs, problems: list[str]
) -> ReconcileReport:
    report = ReconcileReport()
    for name in sorted(n for n in stack.function_arns if n.startswith("poll-")):
        _invoke(stack, name, {})  # what the poll schedules would have found by now
    stack.wait_idle(60)
    woo, bol = stack.sandbox_url("woocommerce"), stack.sandbox_url("bol")
    _patch(woo, refs[MUG]["woocommerce"]["item_id"], {"quantity": 99, "price": "1.00"})
    _patch(bol, refs[LAMP]["bol"]["offer_id"], {"quantity": 0})
    hooks = httpx.get(f"{woo}/__sandbox/subscriptions", timeout=10).json()
    created = next((h for h in hooks if h["topic"] == "order.created"), None)
    if created is None:
        problems.append("reconciliation: no WooCommerce order.created webhook to disable")
        return report
    httpx.post(f"{woo}/__sandbox/subscriptions/{created['id']}/disable", timeout=10)
    _, inventory, _ = stores(stack)
    reserved = _reserved(inventory, TEE)
    body = {"lines": [{"sku": TEE, "quantity": 1, "refs": refs[TEE]["woocommerce"]}]}
    httpx.post(f"{woo}/__sandbox/orders/from-lines", json=body, timeout=10).raise_for_status()

    report.first = _reconcile_all(stack)
    stack.wait_idle(60)
    wait_for_accepted_writes(stack)
    stack.wait_idle(60)
    report.final = _reconcile_all(stack)
    report.books = _invoke(stack, BOOKS_CHECK, {})
    problems.extend(_check(report, refs, _reserved(inventory, TEE) - reserved))
    return report


def _check(report: ReconcileReport, refs: Refs, newly_reserved: int) -> list[str]:
    found: list[str] = []
    woo = report.first.get("woocommerce", {})
    seen = {(d["listing_id"], d["field"]) for d in woo.get("drift", [])}
    mug = refs[MUG]["woocommerce"]["item_id"]
    if not {(mug, "quantity"), (mug, "price")} <= seen:
        found.append(f"reconciliation did not find the hand edit on WooCommerce: {seen}")
    lamp = refs[LAMP]["bol"]["offer_id"]
    if (lamp, "quantity") not in {
        (d["listing_id"], d["field"]) for d in report.first.get("bol", {}).get("drift", [])
    }:
        found.append("reconciliation did not find the hand edit on bol")
    if woo.get("subscriptions_rearmed") != 1 or woo.get("orders_found") != 1:
        found.append(f"the dead WooCommerce webhook was not re-armed and polled: {woo}")
    if newly_reserved != 1:
        found.append(f"the order the dead webhook missed reserved {newly_reserved}, not 1")
    for channel, said in report.final.items():
        if said.get("drift") or said.get("errors") or "error" in said:
            found.append(f"{channel} still drifts after reconciliation: {said}")
    if not report.books.get("ok"):
        found.append(f"Keel's books do not hold: {report.books}")
    return found


def _reserved(inventory: Any, sku: str) -> int:
    level = inventory.get(sku)
    return int(level.reserved) if level else 0


def _patch(sandbox: str, listing_id: str, change: dict[str, Any]) -> None:
    answer = httpx.patch(
        f"{sandbox}/__sandbox/listings/{listing_id}", json={**change, "notify": False}, timeout=10
    )
    answer.raise_for_status()


def _reconcile_all(stack: LocalStack) -> dict[str, dict[str, Any]]:
    names = sorted(
        n for n in stack.function_arns if n.startswith("reconcile-") and n != BOOKS_CHECK
    )
    return {n.removeprefix("reconcile-"): _invoke(stack, n, {}) for n in names}


def _invoke(stack: LocalStack, function: str, event: dict[str, Any]) -> dict[str, Any]:
    payload, error = invoke_json(stack.client("lambda"), stack.function_arns[function], event)
    return {"error": error} if error is not None else dict(payload)


def rows(report: ReconcileReport) -> list[tuple[str, str, str, str, str, str]]:
    """(channel, drift found, repaired, re-armed, orders found, drift after) per channel."""
    return [
        (
            channel,
            ", ".join(f"{d['sku']} {d['field']} {d['channel']}→{d['keel']}" for d in said["drift"])
            or "none",
            str(said.get("repaired", 0)),
            str(said.get("subscriptions_rearmed", 0)),
            str(said.get("orders_found", 0)),
            str(len(report.final.get(channel, {}).get("drift", []))),
        )
        for channel, said in report.first.items()
        if "error" not in said
    ]
