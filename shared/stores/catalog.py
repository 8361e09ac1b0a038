"""SKUs and their channel listings, plus lookups from a channel's ids back to Keel's SKU."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.domain.listings import Listing, ListingRules
from shared.stores.items import av, to_item
from shared.stores.table import Table

_LISTING = "LISTING#"


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
                        {"pk": _ref_pk(listing.channel, kind, ref), "sk": "REF", "sku": listing.sku}
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR sku = :sku",
                    ExpressionAttributeValues={":sku": av(listing.sku)},
                )
            except self._t.client.exceptions.ConditionalCheckFailedException as exc:
                raise RefAlreadyMapped(listing.channel, kind, ref) from exc

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
