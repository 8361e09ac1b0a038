"""Amazon stock out: a merchant-fulfilled listing patched with `merge` (its handling time
survives), ACCEPTED is pending until the listing shows the quantity; a burst goes as one
JSON_LISTINGS_FEED confirmed through its processing report."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local_stack.sandboxes import amazon_models
from local_stack.sandboxes.amazon import AmazonSandbox
from shared.channels.amazon.stock import FEED_THRESHOLD, AmazonStock, feed_document, patch_body
from shared.channels.errors import PermanentError
from shared.channels.port import ConfirmsStock, PendingState, PendingStock, SetsStock, StockUpdate
from shared.domain.listings import Listing
from tests.unit.amazon_support import connect

OTHER_MARKETPLACE = "A1PA6795UKMFR9"  # Amazon.de, the sandbox seller's second marketplace


def adapter(sandbox: AmazonSandbox) -> AmazonStock:
    api, http = connect(sandbox)
    return AmazonStock(api, http)


def listed(sandbox: AmazonSandbox, sku: str, shows: int, marketplace: str | None = None) -> Listing:
    refs = sandbox.add_marketplace_listing(
        sku, sku, Decimal("10"), shows, marketplace or sandbox.marketplace_id
    )
    return Listing(sku, "amazon", refs)


def test_the_adapter_offers_set_and_confirm() -> None:
    stock = adapter(AmazonSandbox())
    assert isinstance(stock, SetsStock) and isinstance(stock, ConfirmsStock)


def test_an_accepted_patch_is_pending_until_the_listing_shows_the_quantity() -> None:
    sandbox = AmazonSandbox(apply_delay_s=3600)
    mug = listed(sandbox, "MUG", 9)
    stock = adapter(sandbox)
    (result,) = stock.set_stock([StockUpdate(mug, 4)])
    assert result.error is None and result.shown is None
    assert result.pending is not None and result.pending.reference.startswith("patch:")
    assert sandbox.listing("MUG").quantity == 9  # accepted, not applied
    (check,) = stock.check_stock([(StockUpdate(mug, 4), result.pending)])
    assert (check.state, check.shown) == (PendingState.PENDING, 9)
    sandbox.apply_delay_s = 0
    for listing in sandbox._listings.values():  # Amazon got round to it
        listing.pending = [(0.0, patch) for _, patch in listing.pending]
    (check,) = stock.check_stock([(StockUpdate(mug, 4), result.pending)])
    assert (check.state, check.shown) == (PendingState.APPLIED, 4)


def test_merge_keeps_the_handling_time_a_replace_would_drop() -> None:
    sandbox = AmazonSandbox(apply_delay_s=0)
    mug = listed(sandbox, "MUG", 9)
    sandbox.listing("MUG").handling_time = 3
    adapter(sandbox).set_stock([StockUpdate(mug, 2)])
    listing = sandbox.listing("MUG")
    assert (listing.quantity, listing.handling_time) == (2, 3)
    assert patch_body(StockUpdate(mug, 2))["patches"][0]["op"] == "merge"


def test_a_seller_sku_in_two_marketplaces_is_two_listings_showing_one_quantity() -> None:
    """fulfillment_availability names no marketplace: a seller SKU's quantity is one number in
    the region, so a patch sent in one marketplace shows in both (orders still match each
    marketplace's listing by its own `marketplace_sku`)."""
    sandbox = AmazonSandbox(apply_delay_s=0)
    nl = listed(sandbox, "MUG", 9)
    de = listed(sandbox, "MUG", 9, OTHER_MARKETPLACE)
    assert nl.refs["marketplace_sku"] != de.refs["marketplace_sku"]
    results = adapter(sandbox).set_stock([StockUpdate(nl, 4)])
    assert all(r.pending for r in results)
    assert sandbox.listing("MUG").quantity == 4
    assert sandbox.listing("MUG", OTHER_MARKETPLACE).quantity == 4


def test_the_sandbox_refuses_a_listing_in_a_marketplace_the_seller_does_not_sell_in() -> None:
    with pytest.raises(ValueError, match="does not sell in A13V1IB3VIYZZH"):
        listed(AmazonSandbox(), "MUG", 9, "A13V1IB3VIYZZH")


def test_an_unknown_or_amazon_fulfilled_listing_fails_alone() -> None:
    sandbox = AmazonSandbox(apply_delay_s=0)
    mug = listed(sandbox, "MUG", 9)
    ghost = Listing("GHOST", "amazon", {**mug.refs, "sku": "GHOST"})
    fba = Listing("FBA", "amazon", {**mug.refs, "fulfillment_channel_code": "AMAZON_EU"})
    results = adapter(sandbox).set_stock(
        [StockUpdate(ghost, 1), StockUpdate(mug, 3), StockUpdate(fba, 1)]
    )
    assert isinstance(results[0].error, PermanentError) and results[0].error.status == 404
    assert results[1].pending is not None
    assert isinstance(results[2].error, PermanentError) and "fulfilled by Amazon" in str(
        results[2].error
    )
    assert not any(op == "patchListingsItem" and "FBA" in p for op, p, _ in sandbox.requests)


def test_a_burst_goes_as_one_feed_and_is_confirmed_by_its_processing_report() -> None:
    sandbox = AmazonSandbox(apply_delay_s=3600)
    listings = [listed(sandbox, f"SKU-{n}", 50) for n in range(FEED_THRESHOLD + 5)]
    ghost = Listing("GHOST", "amazon", {**listings[0].refs, "sku": "GHOST"})
    updates = [StockUpdate(listing, n) for n, listing in enumerate(listings)]
    updates.append(StockUpdate(ghost, 1))
    stock = adapter(sandbox)
    results = stock.set_stock(updates)
    assert all(r.error is None and r.pending is not None for r in results)
    assert {r.pending.reference.rsplit(":", 1)[0] for r in results if r.pending} == {
        "feed:50000000001"
    }
    operations = [op for op, _, _ in sandbox.requests]
    assert operations == ["createFeedDocument", "createFeed"]  # no patch at all
    pending = [(u, r.pending) for u, r in zip(updates, results, strict=True) if r.pending]
    assert {c.state for c in stock.check_stock(pending)} == {PendingState.PENDING}
    for feed in sandbox._feeds.values():  # Amazon processed it
        feed.due = 0.0
    checks = stock.check_stock(pending)
    assert [c.state for c in checks[:-1]] == [PendingState.APPLIED] * len(listings)
    assert checks[-1].state is PendingState.FAILED and "SKU not found" in (checks[-1].reason or "")
    assert [sandbox.listing(f"SKU-{n}").quantity for n in range(3)] == [0, 1, 2]


def test_every_body_keel_sends_for_stock_validates_against_amazons_models() -> None:
    sandbox = AmazonSandbox()
    updates = [StockUpdate(listed(sandbox, f"S{n}", 1), n) for n in range(3)]
    for update in updates:
        assert (
            amazon_models.errors(
                patch_body(update), "listingsItems_2021-08-01", "ListingsItemPatchRequest"
            )
            == []
        )
    document = feed_document(sandbox.seller_id, updates)
    assert amazon_models.errors(document, "schemas/feeds/listings-feed-schema-v2.json") == []
    for message in document["messages"]:
        assert (
            amazon_models.errors(message, "schemas/feeds/listings-feed-message-schema-v2.json")
            == []
        )
    assert (
        amazon_models.errors(
            {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["X"], "inputFeedDocumentId": "d"},
            "feeds_2021-06-30",
            "CreateFeedSpecification",
        )
        == []
    )


def test_patch_checks_read_twenty_listings_a_call_per_marketplace() -> None:
    sandbox = AmazonSandbox(apply_delay_s=0)
    nl = [listed(sandbox, f"NL-{n}", 4) for n in range(23)]  # patches of 4, applied
    de = listed(sandbox, "DE-1", 4, OTHER_MARKETPLACE)
    ghost = Listing("GHOST", "amazon", {**nl[0].refs, "sku": "GHOST"})
    written = [
        StockUpdate(nl[0], 5),
        *(StockUpdate(x, 4) for x in [*nl[1:], de]),
        StockUpdate(ghost, 1),
    ]
    before = len(sandbox.requests)
    checks = adapter(sandbox).check_stock(
        [(u, PendingStock(f"patch:{n}")) for n, u in enumerate(written)]
    )
    searches = [op for op, _, _ in sandbox.requests[before:]]
    assert searches == ["searchListingsItems"] * 3  # 24 in NL: two calls; 1 in DE: one
    assert (checks[0].state, checks[0].shown) == (PendingState.PENDING, 4)  # 5 not shown yet
    assert {c.state for c in checks[1:-1]} == {PendingState.APPLIED}
    assert checks[-1].state is PendingState.FAILED and "not found" in (checks[-1].reason or "")


def test_the_listings_search_keeps_to_the_model() -> None:
    sandbox = AmazonSandbox()
    listed(sandbox, "MUG", 3)
    api, _ = connect(sandbox)
    path = f"/listings/2021-08-01/items/{sandbox.seller_id}"
    query = {"marketplaceIds": sandbox.marketplace_id, "includedData": "fulfillmentAvailability"}
    found = api.call(
        "searchListingsItems", "GET", path, params={**query, "identifiers": "MUG,NOPE",
                                                    "identifiersType": "SKU"}
    ).json()  # fmt: skip
    assert amazon_models.errors(found, "listingsItems_2021-08-01", "ItemSearchResults") == []
    shows = [{"fulfillmentChannelCode": "DEFAULT", "quantity": 3}]
    assert found["items"] == [{"sku": "MUG", "fulfillmentAvailability": shows}]
    for refused in (
        {"identifiers": ",".join(f"S{n}" for n in range(21)), "identifiersType": "SKU"},
        {"identifiers": "MUG"},  # without its type
        {"identifiers": "MUG", "identifiersType": "SKU", "pageSize": "21"},
    ):
        with pytest.raises(PermanentError) as refusal:
            api.call("searchListingsItems", "GET", path, params={**query, **refused})
        assert refusal.value.status == 400
