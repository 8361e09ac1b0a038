"""The price planner with fakes: the price in force is what goes out (never the message's), a
repeated trigger sends nothing, an accepted write is checked until applied, failures retry or
dead-letter with the listing named, and price records share a batch with stock ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import (
    PendingCheck,
    PendingState,
    PendingStock,
    PriceResult,
    PriceUpdate,
    SetsPrices,
)
from shared.channels.spec import SyncPolicy
from shared.domain.listings import Listing
from shared.domain.pricing import PriceDecision
from shared.messages import ConfirmPrice, SyncPrice, sync_message
from shared.services.outbound import DeadLettered, Finished, RetryLater
from shared.services.price_outbound import PriceOutbound, plan_price_batch
from tests.fakes.prices import MemoryPriceBook

D = Decimal
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
MUG = Listing("MUG", "bol", refs={"offer_id": "o-1"})


@dataclass
class FakePrices:
    channel: str = "bol"
    accepts: bool = False
    error: Exception | None = None
    answer: PendingState = PendingState.APPLIED
    sent: list[PriceUpdate] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def set_prices(self, items: Sequence[PriceUpdate]) -> list[PriceResult]:
        self.sent.extend(items)
        if self.error is not None:
            return [PriceResult(i.listing, self.error) for i in items]
        pending = PendingStock("ps-1") if self.accepts else None
        return [PriceResult(i.listing, pending=pending) for i in items]

    def check_prices(
        self, pending: Sequence[tuple[PriceUpdate, PendingStock]]
    ) -> list[PendingCheck]:
        self.checked.extend(w.reference for _, w in pending)
        return [PendingCheck(self.answer, reason="FAILURE: price too low") for _ in pending]


@dataclass
class Channel:
    adapter: FakePrices
    name: str = "bol"

    def price_publisher(self, account: str = "") -> SetsPrices:
        return self.adapter


def decision(price: str, compare_at: str | None = None) -> PriceDecision:
    return PriceDecision(
        "pd-1", "MUG", "bol", "bol", None, D(price), D(compare_at) if compare_at else None,
        "EUR", None, None, "base", "test", "published", "t", NOW,
    )  # fmt: skip


def setup(adapter: FakePrices) -> tuple[PriceOutbound, MemoryPriceBook]:
    book = MemoryPriceBook()
    book.publish(decision("12.95"))
    out = PriceOutbound(
        Channel(adapter),
        SyncPolicy(confirm_delays_s=(5, 10), publish_attempts=2),
        book,
        lambda sku, key: MUG if (sku, key) == ("MUG", "bol") else None,
        lambda: NOW,
    )
    return out, book


def trigger(n: int = 1, attempt: int = 0) -> tuple[str, int, SyncPrice]:
    return (f"m{n}", 1, SyncPrice(channel="bol", sku="MUG", listing="bol", attempt=attempt))


def test_the_price_in_force_goes_out_once_for_repeated_triggers_and_then_not_again() -> None:
    adapter = FakePrices()
    out, book = setup(adapter)
    plan = plan_price_batch([trigger(1), trigger(2)], out)
    assert [u.price for u in adapter.sent] == [D("12.95")]
    assert plan.fates == {"m1": Finished("published"), "m2": Finished("published")}
    assert book.shown[("MUG", "bol")] == (D("12.95"), None)
    again = plan_price_batch([trigger(3)], out)
    assert again.fates["m3"] == Finished("already shown") and len(adapter.sent) == 1


def test_an_accepted_write_is_checked_until_applied() -> None:
    adapter = FakePrices(accepts=True)
    out, book = setup(adapter)
    plan = plan_price_batch([trigger()], out)
    assert plan.fates["m1"] == Finished("accepted; checking")
    (send,) = plan.sends
    check = sync_message(send.body)
    assert isinstance(check, ConfirmPrice) and check.price == "12.95" and send.delay_s == 5
    assert ("MUG", "bol") not in book.shown  # not shown until applied
    confirmed = plan_price_batch([("c1", 1, check)], out)
    assert confirmed.fates["c1"] == Finished("confirmed")
    assert book.shown[("MUG", "bol")] == (D("12.95"), None)


def test_a_write_the_channel_did_not_apply_is_sent_again_then_dead_lettered() -> None:
    adapter = FakePrices(accepts=True, answer=PendingState.FAILED)
    out, _ = setup(adapter)
    check = ConfirmPrice(channel="bol", sku="MUG", listing="bol", price="12.95", reference="ps-1")
    plan = plan_price_batch([("c1", 1, check)], out)
    assert plan.fates["c1"] == Finished("republished")
    again = sync_message(plan.sends[0].body)
    assert isinstance(again, SyncPrice) and again.attempt == 1
    last = plan_price_batch([("c2", 1, check.model_copy(update={"attempt": 1}))], out)
    fate = last.fates["c2"]
    assert isinstance(fate, DeadLettered) and "price too low" in fate.reason
    assert fate.attributes == {"sku": "MUG", "listing": "bol", "price": "12.95"}


def test_failures_retry_or_dead_letter_by_their_class() -> None:
    out, _ = setup(FakePrices(error=RetryableError("503", channel="bol")))
    assert isinstance(plan_price_batch([trigger()], out).fates["m1"], RetryLater)
    out, _ = setup(FakePrices(error=PermanentError("no such offer", channel="bol")))
    fate = plan_price_batch([trigger(1), trigger(2)], out).fates
    assert isinstance(fate["m1"], DeadLettered) and fate["m2"] == Finished("dead-lettered")


def test_a_listing_without_a_price_in_force_sends_nothing() -> None:
    adapter = FakePrices()
    out, _ = setup(adapter)
    other = ("m9", 1, SyncPrice(channel="bol", sku="TEE", listing="bol"))
    assert plan_price_batch([other], out).fates["m9"] == Finished("no price in force")
    assert adapter.sent == []
