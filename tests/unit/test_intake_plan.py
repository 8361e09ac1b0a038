from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.domain.intake import (
    HOLD_TOO_MANY_SKUS,
    HOLD_UNMATCHED,
    MAX_SKUS_PER_RESERVATION,
    Hold,
    Reserve,
    plan_intake,
)
from shared.domain.orders import Money, Order, OrderLine

NOW = datetime(2026, 11, 27, tzinfo=UTC)
EUR = Money(Decimal("1.00"), "EUR")


def order(*lines: tuple[str | None, str | None, int]) -> Order:
    return Order(
        channel="shopify",
        account="shop.example",
        external_id="1",
        name="#1",
        created_at=NOW,
        channel_updated_at=NOW,
        total=EUR,
        presentment_total=EUR,
        lines=tuple(
            OrderLine(str(n), qty, EUR, EUR, channel_variant_id=v, channel_sku=s)
            for n, (v, s, qty) in enumerate(lines)
        ),
    )


CATALOG = {"v1": "MUG", "v2": "TEE"}


def find(variant: str | None, sku: str | None) -> str | None:
    return CATALOG.get(variant or "") or ({"LAMP-CH": "LAMP"}.get(sku or ""))


def test_lines_match_by_variant_then_sku_and_aggregate() -> None:
    plan = plan_intake(order(("v1", None, 1), (None, "LAMP-CH", 1), ("v1", "x", 2)), find)
    assert isinstance(plan, Reserve)
    assert plan.quantities == {"LAMP": 1, "MUG": 3}
    assert [ln.sku for ln in plan.order.lines] == ["MUG", "LAMP", "MUG"]


def test_an_unmatched_line_holds_the_order_with_a_visible_reason() -> None:
    plan = plan_intake(order(("v1", None, 1), ("v9", "NOPE", 1)), find)
    assert isinstance(plan, Hold)
    assert plan.reason.startswith(HOLD_UNMATCHED)
    assert "v9" in plan.reason and "NOPE" in plan.reason


def test_too_many_skus_for_one_transaction_is_held() -> None:
    many = [(f"v{n}", None, 1) for n in range(MAX_SKUS_PER_RESERVATION + 1)]
    plan = plan_intake(order(*many), lambda v, s: v)
    assert isinstance(plan, Hold)
    assert plan.reason.startswith(HOLD_TOO_MANY_SKUS)


def test_lines_that_are_not_stock_are_kept_and_never_reserved_or_held() -> None:
    from dataclasses import replace

    mug, tip = order(("44", "MUG", 2), (None, None, 1)).lines
    with_tip = replace(order(), lines=(mug, replace(tip, stock=False)))
    plan = plan_intake(with_tip, lambda v, s: "MUG" if v == "44" else None)
    assert isinstance(plan, Reserve) and plan.quantities == {"MUG": 2}
    assert len(plan.order.lines) == 2 and plan.order.lines[1].sku is None
    only_tip = replace(order(), lines=(replace(tip, stock=False),))
    plan = plan_intake(only_tip, lambda v, s: None)
    assert isinstance(plan, Reserve) and plan.quantities == {}
