"""Business checks on a signed order before Keel trusts it.

A valid signature proves who sent an order, not that it makes sense: a channel bug, a currency
mix-up or a tampered app can still deliver a total of 0.01 for five items at 12.50. Such an
order is held for a person (with the reason returned here) instead of reserving stock.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

from shared.domain.orders import Money, Order

CATEGORY = "implausible order"
MAX_LINE_QUANTITY = 10_000
MAX_DECIMAL_PLACES = 4
MAX_MAGNITUDE = Decimal(10) ** 12
ROUNDING_PER_TERM = Decimal("0.01")  # a channel may round each line and the total once


def implausibility(order: Order, shop_currency: str) -> str | None:
    """Why this order cannot be trusted as delivered (a hold reason), or None when plausible.

    Every reason starts with "implausible order: " so holds can be grouped by category."""
    reason = _currency(order, shop_currency) or _amounts(order) or _quantities(order)
    if reason is None:
        reason = _total(order)
    return f"{CATEGORY}: {reason}" if reason else None


def _currency(order: Order, shop_currency: str) -> str | None:
    if order.total.currency != shop_currency:
        return f"total in {order.total.currency}, shop currency is {shop_currency}"
    for line in order.lines:
        if line.unit_price.currency != shop_currency:
            return (
                f"line {line.line_id} priced in {line.unit_price.currency}, "
                f"shop currency is {shop_currency}"
            )
    return None


def _amounts(order: Order) -> str | None:
    named: list[tuple[str, Decimal]] = [
        ("total", order.total.amount),
        ("presentment total", order.presentment_total.amount),
    ]
    for line in order.lines:
        named.append((f"line {line.line_id} unit price", line.unit_price.amount))
        named.append(
            (f"line {line.line_id} presentment unit price", line.presentment_unit_price.amount)
        )
    if order.charges is not None:
        named.append(("discounts", order.charges.discounts))
        named.append(("shipping", order.charges.shipping))
        named.append(("tax", order.charges.tax))
        named.append(("fees", abs(order.charges.fees)))  # a fee may be negative (a discount)
    for name, amount in named:
        if problem := _amount_problem(amount):
            return f"{name} {problem}"
    return None


def _amount_problem(amount: Decimal) -> str | None:
    """Decimal takes NaN, Infinity and 1E+999999999; none of them is a price."""
    if not amount.is_finite():
        return f"is not a finite amount ({amount})"
    if amount < 0:
        return f"is negative ({amount})"
    if amount.copy_abs() >= MAX_MAGNITUDE:  # copy_abs: abs() overflows on 1E+999999999
        return f"is out of range ({str(amount)[:24]})"
    if not _has_at_most_places(amount, MAX_DECIMAL_PLACES):
        return f"has more than {MAX_DECIMAL_PLACES} decimal places ({amount})"
    return None


def _has_at_most_places(amount: Decimal, places: int) -> bool:
    """Judged by value, so 12.500000 passes; magnitude is bounded first, so 28 digits suffice."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return True
    with localcontext() as ctx:
        ctx.prec = 40
        try:
            return amount == amount.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:
            return False


def _quantities(order: Order) -> str | None:
    for line in order.lines:
        if not 0 < line.quantity <= MAX_LINE_QUANTITY:
            return f"line {line.line_id} quantity {line.quantity} is outside 1..{MAX_LINE_QUANTITY}"
    return None


def _total(order: Order) -> str | None:
    """The total must follow from the lines and charges, within the channel's rounding."""
    charges = order.charges
    if charges is None:
        return None  # the channel did not say what besides the lines makes up the total
    lines = sum((ln.unit_price.amount * ln.quantity for ln in order.lines), Decimal(0))
    expected = lines - charges.discounts + charges.shipping + charges.fees
    if not charges.taxes_included:
        expected += charges.tax
    tolerance = ROUNDING_PER_TERM * (len(order.lines) + 1)
    if abs(order.total.amount - expected) > tolerance:
        return (
            f"total {_show(order.total)} does not match lines {lines} - discounts "
            f"{charges.discounts} + shipping {charges.shipping} + fees {charges.fees}"
            + ("" if charges.taxes_included else f" + tax {charges.tax}")
            + f" = {expected}"
        )
    return None


def _show(money: Money) -> str:
    return f"{money.amount} {money.currency}"
