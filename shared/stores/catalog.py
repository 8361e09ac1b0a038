"""SKUs and their channel listings, plus lookups from a channel's ids back to Keel's SKU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain.listings import ChannelShows, Listing, ListingRules, Sent
from shared.stores.items import av, to_item
from shared.stores.table import Table

_LISTING = "LISTING#"
_LISTING_CHANGE = "CHANGE#"  # CHANGE#<channel>#<time>: who changed a listing's rules, and why
_SHOWN = "SHOWN#"
_PENDING = "PENDING#"  # PENDING#<channel>: the last stock write accepted but not yet applied
_WAITING = "WAIT#"  # under a REF#: an order held until a listing with that id exists
REF_SK = "REF"  # SHOWN#<channel>: what the channel was last seen to show (not a listing)


class RefAlreadyMapped(Exception):
    """One channel id can point at one SKU only; re-pointing it is a deliberate act."""

    def __init__(self, channel: str, kind: str, ref: str) -> None:
        super().__init__(f"{channel} {kind} {ref} already belongs to another SKU")


def _sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def _ref_pk(channel: str, kind: str, value: str) -> str:
    return f"REF#{channel}#{kind}#{value}"


class CatalogStore:
    def __init__(self, table: str, client: Any) -> None:
        self._t = Table(table, client)

    def put_product(self, sku: str, title: str) -> None:
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item({"pk": _sku_pk(sku), "sk": "META", "sku": sku, "title": title}),
        )

    def put_listing(self, listing: Listing, lookup_refs: tuple[str, ...] = ()) -> None:
        """`lookup_refs` names the refs inbound messages identify lines by (e.g. variant_id)."""
        rules = listing.rules
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(listing.sku),
                    "sk": _LISTING + listing.channel,
                    "sku": listing.sku,
                    "channel": listing.channel,
                    "refs": dict(listing.refs),
                    "share": rules.share,
                    "buffer": rules.buffer,
                    "cap": rules.cap,
                }
            ),
        )
        for kind in lookup_refs:
            ref = listing.refs[kind]
            try:
                self._t.client.put_item(
                    TableName=self._t.name,
                    Item=to_item(
                        {
                            "pk": _ref_pk(listing.channel, kind, ref),
                            "sk": REF_SK,
                            "sku": listing.sku,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR sku = :sku",
                    ExpressionAttributeValues={":sku": av(listing.sku)},
                )
            except self._t.client.exceptions.ConditionalCheckFailedException as exc:
                raise RefAlreadyMapped(listing.channel, kind, ref) from exc

    def wait_for_listing(
        self, channel: str, kind: str, value: str, order_key: str, since: datetime
    ) -> None:
        """The order is held because no listing has this channel id: when one appears (its
        REF item is written), the catalog relay wakes the order."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _ref_pk(channel, kind, value),
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

    def stop_waiting_for_listing(self, channel: str, kind: str, value: str, order_key: str) -> None:
        self._t.client.delete_item(
            TableName=self._t.name,
            Key={"pk": av(_ref_pk(channel, kind, value)), "sk": av(_WAITING + order_key)},
        )

    def change_rules(
        self, sku: str, channel: str, rules: ListingRules, actor: str, reason: str, at: datetime
    ) -> Listing:
        """New publishing rules for an existing listing, with a record of who and why. The
        catalog's stream carries the change to the channel (relay-catalog)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key={"pk": av(_sku_pk(sku)), "sk": av(_LISTING + channel)},
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
            raise KeyError(f"no {channel} listing for SKU {sku}") from exc
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": f"{_LISTING_CHANGE}{channel}#{at.isoformat()}",
                    "channel": channel,
                    "share": rules.share,
                    "buffer": rules.buffer,
                    "cap": rules.cap,
                    "actor": actor,
                    "reason": reason,
                    "at": at.isoformat(),
                }
            ),
        )
        listing = self.listing(sku, channel)
        assert listing is not None
        return listing

    def rule_changes(self, sku: str) -> list[dict[str, Any]]:
        return list(self._t.query_prefix(_sku_pk(sku), _LISTING_CHANGE))

    def record_shown(self, sku: str, channel: str, quantity: int, at: datetime) -> None:
        """What the channel shows after a publish Keel saw succeed: the next publish's
        compare-and-set base (Shopify changeFromQuantity), never a source of truth."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": _SHOWN + channel,
                    "quantity": quantity,
                    "at": at.isoformat(),
                }
            ),
        )

    def shown(self, sku: str, channel: str) -> int | None:
        item = self._t.get(_sku_pk(sku), _SHOWN + channel)
        return int(item["quantity"]) if item else None

    def shown_at(self, sku: str, channel: str) -> tuple[int, str] | None:
        """The last confirmed quantity and when it was confirmed (ISO time)."""
        item = self._t.get(_sku_pk(sku), _SHOWN + channel)
        return (int(item["quantity"]), str(item["at"])) if item else None

    def record_pending(
        self, sku: str, channel: str, quantity: int, reference: str, at: datetime
    ) -> None:
        """A write the channel accepted but has not applied: not what it shows (yet). The
        latest one wins; a check of an older one finds itself superseded."""
        self._t.client.put_item(
            TableName=self._t.name,
            Item=to_item(
                {
                    "pk": _sku_pk(sku),
                    "sk": _PENDING + channel,
                    "quantity": quantity,
                    "reference": reference,
                    "at": at.isoformat(),
                }
            ),
        )

    def pending(self, sku: str, channel: str) -> tuple[int, str] | None:
        """(quantity, reference) of the latest accepted-not-applied write, if any."""
        return _pending(self._t.get(_sku_pk(sku), _PENDING + channel))

    def listed_and_pending(
        self, skus: Iterable[str], channel: str
    ) -> dict[str, tuple[Listing | None, tuple[int, str] | None]]:
        """Each SKU's listing on the channel and its write in flight there (`pending`), in one
        read: what a batch of confirmation checks compares with."""
        wanted = list(dict.fromkeys(skus))
        found = self._t.get_many(
            (_sku_pk(s), kind + channel) for s in wanted for kind in (_LISTING, _PENDING)
        )
        out: dict[str, tuple[Listing | None, tuple[int, str] | None]] = {}
        for sku in wanted:
            listing = found.get((_sku_pk(sku), _LISTING + channel))
            out[sku] = (
                _listing(listing) if listing else None,
                _pending(found.get((_sku_pk(sku), _PENDING + channel))),
            )
        return out

    def clear_pending(self, sku: str, channel: str, reference: str, at: datetime) -> None:
        """The write `reference` will never be applied (dead-lettered): no longer in flight.
        A newer write recorded meanwhile is left as it is."""
        client = self._t.client
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=self._t.name,
                Item=to_item(
                    {
                        "pk": _sku_pk(sku),
                        "sk": _PENDING + channel,
                        "cleared": reference,
                        "at": at.isoformat(),
                    }
                ),
                ConditionExpression="#r = :reference",
                ExpressionAttributeNames={"#r": "reference"},
                ExpressionAttributeValues={":reference": av(reference)},
            )

    def channel_shows_many(
        self, skus: Iterable[str], channel: str, accepts: bool = True
    ) -> dict[str, ChannelShows]:
        """The last confirmed quantity and the write in flight of several SKUs, in one read:
        what a sync compares with. `accepts` False: the channel applies writes at once (none
        is ever in flight)."""
        wanted = list(dict.fromkeys(skus))
        kinds = (_SHOWN, _PENDING) if accepts else (_SHOWN,)
        found = self._t.get_many((_sku_pk(s), kind + channel) for s in wanted for kind in kinds)
        return {
            sku: _shows(
                found.get((_sku_pk(sku), _SHOWN + channel)),
                found.get((_sku_pk(sku), _PENDING + channel)),
            )
            for sku in wanted
        }

    def listings_and_shows(
        self, skus: Iterable[str], channel: str, accepts: bool = True
    ) -> tuple[dict[str, Listing], dict[str, ChannelShows]]:
        """`listings_on` and `channel_shows_many` in one read (a sync batch's first)."""
        wanted = list(dict.fromkeys(skus))
        kinds = (_LISTING, _SHOWN, _PENDING) if accepts else (_LISTING, _SHOWN)
        found = self._t.get_many((_sku_pk(s), kind + channel) for s in wanted for kind in kinds)
        listings: dict[str, Listing] = {}
        shows: dict[str, ChannelShows] = {}
        for sku in wanted:
            item = found.get((_sku_pk(sku), _LISTING + channel))
            if item is not None:
                listings[sku] = _listing(item)
            shows[sku] = _shows(
                found.get((_sku_pk(sku), _SHOWN + channel)),
                found.get((_sku_pk(sku), _PENDING + channel)),
            )
        return listings, shows

    def all_listings(self) -> list[Listing]:
        """Every listing of every SKU; for the scheduled resync, not for request paths."""
        return [_listing(i) for i in self._t.scan_prefix(_LISTING)]

    def listings_for(self, sku: str) -> list[Listing]:
        return [_listing(i) for i in self._t.query_prefix(_sku_pk(sku), _LISTING)]

    def listing(self, sku: str, channel: str) -> Listing | None:
        item = self._t.get(_sku_pk(sku), _LISTING + channel)
        return _listing(item) if item else None

    def find_sku(self, channel: str, kind: str, value: str) -> str | None:
        item = self._t.get(_ref_pk(channel, kind, value), "REF")
        return str(item["sku"]) if item else None

    def products(self) -> dict[str, str]:
        """SKU -> title, for operators; a scan is fine at catalog sizes."""
        found = {str(i["sku"]): str(i.get("title", "")) for i in self._t.scan_sk("META")}
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


def _listing(item: dict[str, Any]) -> Listing:
    cap = item.get("cap")
    return Listing(
        sku=str(item["sku"]),
        channel=str(item["channel"]),
        refs={str(k): str(v) for k, v in item.get("refs", {}).items()},
        rules=ListingRules(
            share=Decimal(item.get("share", 1)),
            buffer=int(item.get("buffer", 0)),
            cap=int(cap) if cap is not None else None,
        ),
    )
