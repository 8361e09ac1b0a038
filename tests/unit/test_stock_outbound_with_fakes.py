"""The stock planner of the outbound engine (shared/services/stock_outbound.py) on the
in-memory stores and a scripted channel: what each record's fate is and what goes back on the
queue, without moto or SQS (shared/queue_batch.py carries plans out; tests/unit/
test_queue_batch.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from shared.channels.errors import PermanentError, RetryableError
from shared.channels.port import PendingStock, StockResult, StockUpdate
from shared.channels.spec import SyncPolicy
from shared.domain.inventory import Movement, MovementCause
from shared.domain.listings import Listing, ListingRules
from shared.messages import ConfirmStock, SyncListing, sync_message
from shared.services.outbound import BatchPlan, DeadLettered, Finished, QueueRecord, RetryLater
from shared.services.stock_outbound import StockAccount, StockOutbound, plan_stock_batch
from tests.fakes.stores import MemoryStores

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
CHANNEL = "woocommerce"


class Channel:
    """A channel whose answers the test scripts: SKU -> an error, or "pending"."""

    name = CHANNEL

    def __init__(self, answers: dict[str, Exception | str] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[list[tuple[str, int]]] = []
        self.accounts: list[str] = []  # the account of each call
        self.channel = CHANNEL
        self._account = ""

    def stock_publisher(self, fresh: bool = False, account: str = "") -> Channel:
        self._account = account
        return self

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        self.calls.append([(u.listing.sku, u.quantity) for u in items])
        self.accounts.append(self._account)
        results = []
        for update in items:
            answer = self.answers.get(update.listing.sku)
            if answer == "pending":
                results.append(StockResult(update.listing, pending=PendingStock("job-1")))
            else:
                error = answer if isinstance(answer, Exception) else None
                results.append(StockResult(update.listing, error=error))
        return results


def stores(**stock: int) -> MemoryStores:
    memory = MemoryStores()
    for sku, qty in stock.items():
        memory.inventory.receive(Movement(sku, MovementCause.RECEIPT, qty, "po", "t", NOW))
        memory.catalog.list(Listing(sku, CHANNEL, {"product_id": sku}))
    return memory


def record(n: int, message: SyncListing | ConfirmStock | str, receives: int = 1) -> QueueRecord:
    body = message if isinstance(message, str) else message.model_dump_json()
    return QueueRecord(f"m{n}", body, receives, NOW)


def plan(
    memory: MemoryStores,
    channel: Channel,
    *records: QueueRecord,
    accounts: tuple[StockAccount, ...] = (StockAccount(),),
) -> BatchPlan:
    out = StockOutbound(
        channel, SyncPolicy(), memory.catalog, memory.inventory, lambda: NOW, accounts=accounts
    )
    return plan_stock_batch(list(records), out)


def trigger(sku: str, moved: bool = True) -> SyncListing:
    return SyncListing(channel=CHANNEL, sku=sku, stock_moved=moved)


def test_a_batch_publishes_each_sku_once_and_every_trigger_is_done() -> None:
    memory, channel = stores(MUG=3, TEE=2), Channel()
    result = plan(memory, channel, record(1, trigger("MUG")), record(2, trigger("MUG")),
                  record(3, trigger("TEE")))  # fmt: skip
    assert channel.calls == [[("MUG", 3), ("TEE", 2)]]
    assert result.fates == {"m1": Finished("MUG"), "m2": Finished("MUG"), "m3": Finished("TEE")}
    assert result.counts["StockPublished"] == 2 and result.sends == []
    assert memory.world.shown[("MUG", CHANNEL)] == (3, NOW)


def test_what_the_channel_already_shows_is_not_sent_again() -> None:
    memory, channel = stores(MUG=3), Channel()
    plan(memory, channel, record(1, trigger("MUG")))
    result = plan(memory, channel, record(2, trigger("MUG")))
    assert len(channel.calls) == 1
    assert result.counts["StockAlreadyShown"] == 1 and result.counts["StockPublished"] == 0
    plan(memory, channel, record(3, trigger("MUG", moved=False)))  # a resync always sends
    assert len(channel.calls) == 2


def test_a_refusal_dead_letters_one_message_per_sku_with_its_reason() -> None:
    memory = stores(MUG=3)
    channel = Channel({"MUG": PermanentError("product 9 is gone", channel=CHANNEL)})
    result = plan(memory, channel, record(1, trigger("MUG")), record(2, trigger("MUG")))
    first, second = result.fates["m1"], result.fates["m2"]
    assert isinstance(first, DeadLettered) and "product 9 is gone" in first.reason
    assert first.error_class == "PermanentError" and first.attributes["sku"] == "MUG"
    assert second == Finished("dead-lettered")


def test_an_outage_sends_the_trigger_back_through_the_queue() -> None:
    memory = stores(MUG=3)
    channel = Channel({"MUG": RetryableError("503", channel=CHANNEL, retry_after_s=120)})
    result = plan(memory, channel, record(1, trigger("MUG"), receives=2))
    fate = result.fates["m1"]
    assert isinstance(fate, RetryLater) and fate.delay_s == 120


def test_a_write_accepted_not_applied_queues_one_check() -> None:
    memory, channel = stores(MUG=3), Channel({"MUG": "pending"})
    result = plan(memory, channel, record(1, trigger("MUG")), record(2, trigger("MUG")))
    assert result.fates == {"m1": Finished("pending"), "m2": Finished("pending")}
    (check,) = result.sends
    message = sync_message(check.body)
    assert isinstance(message, ConfirmStock) and message.reference == "job-1"
    assert check.for_record == "m1" and check.delay_s == SyncPolicy().confirm_delays_s[0]
    assert memory.world.pending[("MUG", CHANNEL)][:2] == (3, "job-1")


def test_an_unreadable_record_is_dead_lettered_and_the_rest_go_on() -> None:
    memory, channel = stores(MUG=1), Channel()
    result = plan(memory, channel, record(1, "{not json"), record(2, trigger("MUG")))
    assert isinstance(result.fates["m1"], DeadLettered)
    assert result.fates["m2"] == Finished("MUG")


TWO_SHOPS = (StockAccount(), StockAccount("shop-two.example"))


def test_a_trigger_for_every_account_goes_back_once_per_account() -> None:
    memory, channel = stores(MUG=3), Channel()
    result = plan(memory, channel, record(1, trigger("MUG")), accounts=TWO_SHOPS)
    assert channel.calls == [] and result.fates == {"m1": Finished("sent to each account")}
    again = [SyncListing.model_validate_json(send.body) for send in result.sends]
    assert [(m.account, m.sku, m.stock_moved) for m in again] == [
        ("", "MUG", True),
        ("shop-two.example", "MUG", True),
    ]
    assert all(send.for_record == "m1" and send.delay_s == 0 for send in result.sends)


def test_each_account_publishes_its_own_listing_with_its_own_rules() -> None:
    memory, channel = stores(MUG=10), Channel()
    memory.catalog.list(
        Listing(
            "MUG", CHANNEL, {"product_id": "7"}, ListingRules(buffer=4), account="shop-two.example"
        )
    )
    first = SyncListing(channel=CHANNEL, account="", sku="MUG")
    second = SyncListing(channel=CHANNEL, account="shop-two.example", sku="MUG")
    result = plan(memory, channel, record(1, first), record(2, second), accounts=TWO_SHOPS)
    assert sorted(zip(channel.accounts, channel.calls, strict=True)) == [
        ("", [("MUG", 10)]),
        ("shop-two.example", [("MUG", 6)]),
    ]
    assert result.fates == {"m1": Finished("MUG"), "m2": Finished("MUG")}
    assert memory.world.shown[("MUG", CHANNEL)][0] == 10
    assert memory.world.shown[("MUG", f"{CHANNEL}@shop-two.example")][0] == 6


def test_a_sku_not_listed_on_an_account_is_nothing_to_do_there() -> None:
    memory, channel = stores(MUG=3), Channel()
    second = SyncListing(channel=CHANNEL, account="shop-two.example", sku="MUG")
    result = plan(memory, channel, record(1, second), accounts=TWO_SHOPS)
    assert channel.calls == [] and result.fates == {"m1": Finished("MUG")}


def test_a_trigger_for_an_account_no_longer_configured_is_dropped_with_a_note() -> None:
    memory, channel = stores(MUG=3), Channel()
    gone = SyncListing(channel=CHANNEL, account="closed-shop.example", sku="MUG")
    result = plan(memory, channel, record(1, gone), accounts=TWO_SHOPS)
    assert result.fates == {"m1": Finished("no such account")} and channel.calls == []
    assert any("not configured" in message for _, message, _ in result.notes)


def test_a_pending_check_and_its_republish_keep_their_account() -> None:
    memory, channel = stores(MUG=3), Channel({"MUG": "pending"})
    memory.catalog.list(Listing("MUG", CHANNEL, {"product_id": "7"}, account="shop-two.example"))
    second = SyncListing(channel=CHANNEL, account="shop-two.example", sku="MUG")
    result = plan(memory, channel, record(1, second), accounts=TWO_SHOPS)
    (check,) = [sync_message(send.body) for send in result.sends]
    assert isinstance(check, ConfirmStock) and check.account == "shop-two.example"
    assert memory.world.pending[("MUG", f"{CHANNEL}@shop-two.example")][:2] == (3, "job-1")


def test_listings_of_one_account_in_several_marketplaces_share_one_quantity() -> None:
    memory, channel = stores(MUG=10), Channel()
    world = memory.world
    del world.listings[("MUG", CHANNEL)]
    memory.catalog.list(Listing("MUG", CHANNEL, {"sku": "MUG"}, ListingRules(buffer=1),
                                marketplace="DE"))  # fmt: skip
    memory.catalog.list(Listing("MUG", CHANNEL, {"sku": "MUG"}, ListingRules(cap=5),
                                marketplace="NL"))  # fmt: skip
    region = (StockAccount("", ("DE", "NL")),)
    plan(memory, channel, record(1, trigger("MUG", moved=False)), accounts=region)
    assert channel.calls == [[("MUG", 5)]]  # once, within both listings' rules
