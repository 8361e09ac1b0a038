"""SKUs and their channel listings, plus lookups from a channel's ids back to Keel's SKU.

Listings are keyed by `Listing.key` (channel, account, marketplace); what a channel shows and
the write in flight are kept per slot (`Listing.slot`: channel and account), where one quantity
is shown; a channel's ids are looked up per slot (two WooCommerce stores both have a product 42).
Keys of a channel's first account are spelled as the channel alone (shared/domain/listings.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.listings import (
    ChannelShows,
    Listing,
    ListingRules,
    Sent,
    one_quantity,
    split_listing_key,
)
from shared.domain.products import Product
from shared.stores.items import av, to_item
from shared.stores.table import Table

_LISTING = "LISTING#"
_LISTING_CHANGE = "CHANGE#"  # CHANGE#<listing key>#<time>: who changed a listing's rules, and why
_SHOWN = "SHOWN#"
_PENDING = "PENDING#"  # PENDING#<slot>: the last stock write accepted but not yet applied
_WAITING = "WAIT#"  # under a REF#: an order held until a listing with that id exists
REF_SK = "REF"  # SHOWN#<slot>: what the channel was last seen to show (not a listing)


class RefAlreadyMapped(Exception):
    """One channel id can point at one SKU only; re-pointing it is a deliberate act."""

    def __init__(self, slot: str, kind: str, ref: str) -> None:
        super().__init__(f"{slot} {kind} {ref} already belongs to another SKU")


def _sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def _ref_pk(slot: str, kind: str, value: str) -> str:
    return f"REF#{slot}#{kind}#{value}"


class CatalogStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    def put_product(self, sku: str, title: str, gtin: str | None = None) -> None:
        item = {"pk": _sku_pk(sku), "sk": "META", "sku": sku, "title": title}
        if gtin:
            item["gtin"] = gtin
        self._t.client.put_item(TableName=self._t.name, Item=to_item(item))

    def put_listing(self, listing: Listing, lookup_refs: tuple[str, ...] = ()) -> None:
        """`lookup_refs` names the refs inbound messages identify listings by (e.g. variant_id,
        an ASIN); a ref the listing does not hold is skipped."""
        rules = listing.rules
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(listing.sku),
                    "sk": _LISTING + listing.key,
                    "sku": listing.sku,
                    "channel": listing.channel,
                    "account": listing.account,
                    "marketplace": listing.marketplace,
                    "countries": list(listing.countries),
                    "refs": dict(listing.refs),
                    "share": rules.share,
                    "buffer": rules.buffer,
                    "cap": rules.cap,
                }
            ),
        )
        for kind in lookup_refs:
            ref = listing.refs.get(kind)
            if not ref:  # a listing without that id cannot be found by it
                continue
            try:
                self._t.client.put_item(
                    TableName=self._t.name,
                    Item=to_item(
                        {
                            "pk": _ref_pk(listing.slot, kind, ref),
                            "sk": REF_SK,
                            "sku": listing.sku,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR sku = :sku",
                    ExpressionAttributeValues={":sku": av(listing.sku)},
                )
            except self._t.client.exceptions.ConditionalCheckFailedException as exc:
                raise RefAlreadyMapped(listing.slot, kind, ref) from exc

    def wait_for_listing(
        self, slot: str, kind: str, value: str, order_key: str, since: datetime
    ) -> None:
        """The order is held because no listing has this channel id: when one appears (its
        REF item is written), the catalog relay wakes the order."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _ref_pk(slot, kind, value),
                    "sk": _WAITING + order_key,
                    "order": order_key,
                    "since": since.isoformat(),
                }
            ),
        )

    def orders_waiting_for_ref(self, ref_pk: str) -> list[str]:
        """Orders held waiting for the listing of this REF item's id, oldest hold first."""
        items = sorted(self._t.query_prefix(ref_pk, _WAITING), key=lambda i: str(i["since"]))
        return [str(i["order"]) for i in items]

    def stop_waiting_for_listing(self, slot: str, kind: str, value: str, order_key: str) -> None:
        self._t.client.delete_item(
            TableName=self._t.name,
            Key={"pk": av(_ref_pk(slot, kind, value)), "sk": av(_WAITING + order_key)},
        )

    def change_rules(
        self, sku: str, key: str, rules: ListingRules, actor: str, reason: str, at: datetime
    ) -> Listing:
        """New publishing rules for an existing listing (`Listing.key`), with a record of who
        and why. The catalog's stream carries the change to the channel (relay-catalog)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key={"pk": av(_sku_pk(sku)), "sk": av(_LISTING + key)},
                UpdateExpression="SET #share = :share, #buffer = :buffer, #cap = :cap",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#share": "share", "#buffer": "buffer", "#cap": "cap"},
                ExpressionAttributeValues={
                    ":share": av(rules.share),
                    ":buffer": av(rules.buffer),
                    ":cap": av(rules.cap),
                },
            )
        except self._t.client.exceptions.ConditionalCheckFailedException as exc:
            raise KeyError(f"no {key} listing for SKU {sku}") from exc
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": f"{_LISTING_CHANGE}{key}#{at.isoformat()}",
                    "channel": split_listing_key(key)[0],
                    "listing": key,
                    "share": rules.share,
                    "buffer": rules.buffer,
                    "cap": rules.cap,
                    "actor": actor,
                    "reason": reason,
                    "at": at.isoformat(),
                }
            ),
        )
        listing = self.listing(sku, key)
        assert listing is not None
        return listing

    def rule_changes(self, sku: str) -> list[dict[str, Any]]:
        return list(self._t.query_prefix(_sku_pk(sku), _LISTING_CHANGE))

    def record_shown(self, sku: str, slot: str, quantity: int, at: datetime) -> None:
        """What the channel shows after a publish Keel saw succeed: the next publish's
        compare-and-set base (Shopify changeFromQuantity), never a source of truth."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": _SHOWN + slot,
                    "quantity": quantity,
                    "at": at.isoformat(),
                }
            ),
        )

    def shown(self, sku: str, slot: str) -> int | None:
        item = self._t.get(_sku_pk(sku), _SHOWN + slot)
        return int(item["quantity"]) if item else None

    def shown_at(self, sku: str, slot: str) -> tuple[int, str] | None:
        """The last confirmed quantity and when it was confirmed (ISO time)."""
        item = self._t.get(_sku_pk(sku), _SHOWN + slot)
        return (int(item["quantity"]), str(item["at"])) if item else None

    def record_pending(
        self, sku: str, slot: str, quantity: int, reference: str, at: datetime
    ) -> None:
        """A write the channel accepted but has not applied: not what it shows (yet). The
        latest one wins; a check of an older one finds itself superseded."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": _PENDING + slot,
                    "quantity": quantity,
                    "reference": reference,
                    "at": at.isoformat(),
                }
            ),
        )

    def pending(self, sku: str, slot: str) -> tuple[int, str] | None:
        """(quantity, reference) of the latest accepted-not-applied write, if any."""
        return _pending(self._t.get(_sku_pk(sku), _PENDING + slot))

    def listed_and_pending(
        self, skus: Iterable[str], slot: str, marketplaces: Sequence[str] = ()
    ) -> dict[str, tuple[Listing | None, tuple[int, str] | None]]:
        """Each SKU's listing in the slot (`one_quantity` of its marketplaces' listings) and
        its write in flight there (`pending`), in one read: what a batch of confirmation
        checks compares with."""
        wanted = list(dict.fromkeys(skus))
        kinds = (*_listing_sks(slot, marketplaces), _PENDING + slot)
        found = self._t.get_many((_sku_pk(s), kind) for s in wanted for kind in kinds)
        return {
            sku: (
                _slot_listing(found, sku, slot, marketplaces),
                _pending(found.get((_sku_pk(sku), _PENDING + slot))),
            )
            for sku in wanted
        }

    def clear_pending(self, sku: str, slot: str, reference: str, at: datetime) -> None:
        """The write `reference` will never be applied (dead-lettered): no longer in flight.
        A newer write recorded meanwhile is left as it is."""
        client = self._t.client
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=self._t.name,
                Item=to_item(
                    {
                        "pk": _sku_pk(sku),
                        "sk": _PENDING + slot,
                        "cleared": reference,
                        "at": at.isoformat(),
                    }
                ),
                ConditionExpression="#r = :reference",
                ExpressionAttributeNames={"#r": "reference"},
                ExpressionAttributeValues={":reference": av(reference)},
            )

    def channel_shows_many(
        self, skus: Iterable[str], slot: str, accepts: bool = True
    ) -> dict[str, ChannelShows]:
        """The last confirmed quantity and the write in flight of several SKUs in one slot, in
        one read: what a sync compares with. `accepts` False: the channel applies writes at
        once (none is ever in flight)."""
        wanted = list(dict.fromkeys(skus))
        kinds = (_SHOWN, _PENDING) if accepts else (_SHOWN,)
        found = self._t.get_many((_sku_pk(s), kind + slot) for s in wanted for kind in kinds)
        return {
            sku: _shows(
                found.get((_sku_pk(sku), _SHOWN + slot)),
                found.get((_sku_pk(sku), _PENDING + slot)),
            )
            for sku in wanted
        }

    def listings_and_shows(
        self,
        skus: Iterable[str],
        slot: str,
        accepts: bool = True,
        marketplaces: Sequence[str] = (),
    ) -> tuple[dict[str, Listing], dict[str, ChannelShows]]:
        """Each SKU's listing in the slot (`one_quantity` of the listings of its account's
        `marketplaces`, and of the one naming none) and what the slot shows, in one read (a
        sync batch's first)."""
        wanted = list(dict.fromkeys(skus))
        shown_kinds = (_SHOWN + slot, _PENDING + slot) if accepts else (_SHOWN + slot,)
        kinds = (*_listing_sks(slot, marketplaces), *shown_kinds)
        found = self._t.get_many((_sku_pk(s), kind) for s in wanted for kind in kinds)
        listings: dict[str, Listing] = {}
        shows: dict[str, ChannelShows] = {}
        for sku in wanted:
            listing = _slot_listing(found, sku, slot, marketplaces)
            if listing is not None:
                listings[sku] = listing
            shows[sku] = _shows(
                found.get((_sku_pk(sku), _SHOWN + slot)),
                found.get((_sku_pk(sku), _PENDING + slot)),
            )
        return listings, shows

    def all_listings(self) -> list[Listing]:
        """Every listing of every SKU; for the scheduled resync, not for request paths."""
        return [_listing(i) for i in self._t.scan_prefix(_LISTING)]

    def listings_for(self, sku: str) -> list[Listing]:
        return [_listing(i) for i in self._t.query_prefix(_sku_pk(sku), _LISTING)]

    def listing(self, sku: str, key: str) -> Listing | None:
        """One listing by its `Listing.key` (the channel alone: its first account's)."""
        item = self._t.get(_sku_pk(sku), _LISTING + key)
        return _listing(item) if item else None

    def find_sku(self, slot: str, kind: str, value: str) -> str | None:
        item = self._t.get(_ref_pk(slot, kind, value), "REF")
        return str(item["sku"]) if item else None

    def products(self) -> dict[str, str]:
        """SKU -> title, for operators; a scan is fine at catalog sizes."""
        return {sku: p.title for sku, p in self.products_detail().items()}

    def products_detail(self) -> dict[str, Product]:
        """SKU -> its product (title, GTIN), for import and discovery."""
        found = {
            str(i["sku"]): Product(str(i["sku"]), str(i.get("title", "")), i.get("gtin"))
            for i in self._t.scan_sk("META")
        }
        return dict(sorted(found.items()))


def is_listing_key(sk: str) -> bool:
    return sk.startswith(_LISTING)


def listing_from_item(item: dict[str, Any]) -> Listing:
    """From a deserialized item or stream image."""
    return _listing(item)


def _pending(item: dict[str, Any] | None) -> tuple[int, str] | None:
    return (int(item["quantity"]), str(item["reference"])) if item and "reference" in item else None


def _shows(shown: dict[str, Any] | None, pending: dict[str, Any] | None) -> ChannelShows:
    return ChannelShows(
        Sent(int(shown["quantity"]), datetime.fromisoformat(str(shown["at"]))) if shown else None,
        Sent(int(pending["quantity"]), datetime.fromisoformat(str(pending["at"])))
        if pending and "reference" in pending
        else None,
    )


def _listing_sks(slot: str, marketplaces: Sequence[str]) -> tuple[str, ...]:
    return (_LISTING + slot, *(f"{_LISTING}{slot}/{m}" for m in marketplaces))


def _slot_listing(
    found: dict[tuple[str, str], dict[str, Any]], sku: str, slot: str, marketplaces: Sequence[str]
) -> Listing | None:
    items = [found.get((_sku_pk(sku), sk)) for sk in _listing_sks(slot, marketplaces)]
    listings = [_listing(item) for item in items if item is not None]
    return one_quantity(listings) if listings else None


def _listing(item: dict[str, Any]) -> Listing:
    cap = item.get("cap")
    return Listing(
        sku=str(item["sku"]),
        channel=str(item["channel"]),
        account=str(item.get("account", "")),
        marketplace=str(item.get("marketplace", "")),
        countries=tuple(str(c) for c in item.get("countries", ())),
        refs={str(k): str(v) for k, v in item.get("refs", {}).items()},
        rules=ListingRules(
            share=Decimal(item.get("share", 1)),
            buffer=int(item.get("buffer", 0)),
            cap=int(cap) if cap is not None else None,
        ),
    )
