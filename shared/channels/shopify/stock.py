"""Publish stock to Shopify with Admin GraphQL `inventorySetQuantities` (<= 250 rows a call).

Every row carries `changeFromQuantity` (compare-and-set): Keel's last seen quantity, or the live
level read just before when Keel never saw one. The mutation is all-or-nothing, so a row the
channel moved in between (CHANGE_FROM_QUANTITY_STALE) is read again once and the call is sent
again with the other rows; a row that moves again is left to the queue's retry, never looped on.
Every call carries a fresh `@idempotent` key. The cost bucket reported on each answer paces the
next call; a THROTTLED answer (HTTP 200) becomes a RetryableError with the wait it needs.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shared.channels.errors import ChannelError, PermanentError, RetryableError
from shared.channels.port import StockResult, StockUpdate
from shared.channels.shopify import CHANNEL as SPEC
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.admin import AdminClient
from shared.channels.shopify.secret import ShopifySecret

CHANNEL = "shopify"
ROWS_PER_CALL = SPEC.sync.rows_per_call  # 250, declared on the channel's SyncPolicy
MAX_MUTATIONS_PER_CHUNK = 3  # first try, one after a stale re-read, one for rows held back

# InventorySetQuantitiesUserErrorCode, by what it means for the row it names.
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
ROW_PERMANENT_CODES = frozenset(
    {
        "INVALID_INVENTORY_ITEM",
        "INVALID_LOCATION",
        "NON_MUTABLE_INVENTORY_ITEM",
        "INVALID_QUANTITY_NEGATIVE",
        "INVALID_QUANTITY_TOO_HIGH",
        "INVALID_QUANTITY_TOO_LOW",
        "COMPARE_QUANTITY_REQUIRED",
        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
    }
)
# Codes about the request as a whole that no retry fixes (the same document would be sent).
REQUEST_PERMANENT_CODES = frozenset(
    {"INVALID_NAME", "INVALID_REASON", "INVALID_REFERENCE_DOCUMENT"}
)

_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d+)$")


def to_gid(kind: str, raw: str) -> str:
    """A listing ref (numeric id or gid) as the gid GraphQL takes."""
    value = str(raw).strip()
    if value.isdigit():
        return f"gid://shopify/{kind}/{value}"
    match = _GID.match(value)
    if match and match["kind"] == kind:
        return value
    raise ValueError(f"not a Shopify {kind} id: {raw!r}")


@dataclass
class _Row:
    index: int  # position in the caller's items
    update: StockUpdate
    item_gid: str
    location_gid: str
    change_from: int | None = None
    reread: bool = False

    @property
    def pair(self) -> tuple[str, str]:
        return (self.item_gid, self.location_gid)

    @property
    def target(self) -> int:
        """What to set. A level that dropped below what Keel last saw is most likely a sale Keel
        has not taken in yet: never raise it back over the live level on a compare-and-set
        retry (that would sell the unit twice). It is still never set below zero (Shopify
        refuses that, INVALID_QUANTITY_NEGATIVE, and a shop oversold by its own decrements
        would stay stuck there). The row then shows less than Keel derives: the sync checks it
        again a little later, when the order has arrived or Keel's number stands."""
        known, live = self.update.known_quantity, self.change_from
        if self.reread and known is not None and live is not None and live < known:
            return max(0, min(self.update.quantity, live))
        return self.update.quantity


def _fail(update: StockUpdate, error: ChannelError) -> StockResult:
    return StockResult(update.listing, error)


class ShopifyStockPublisher:
    """Outbound stock half of the Shopify adapter."""

    channel = CHANNEL

    def __init__(
        self,
        secret: ShopifySecret,
        http: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._post = AdminClient(secret, http, sleep=sleep).post

    def set_stock(self, items: Sequence[StockUpdate]) -> list[StockResult]:
        results: dict[int, StockResult] = {}
        rows: list[_Row] = []
        for index, item in enumerate(items):
            try:
                refs = item.listing.refs
                rows.append(
                    _Row(
                        index,
                        item,
                        to_gid("InventoryItem", refs["inventory_item_id"]),
                        to_gid("Location", refs["location_id"]),
                    )
                )
            except (KeyError, ValueError) as exc:
                message = f"listing has no usable Shopify inventory ids {item.listing.refs}: {exc}"
                results[index] = _fail(item, PermanentError(message, channel=CHANNEL))
        try:
            for chunk in _chunks(rows):
                self._publish_chunk(chunk, results)
        except ChannelError as failure:  # the call itself failed: the rest share its fate
            for row in rows:
                results.setdefault(row.index, _fail(row.update, failure))
        return [results[index] for index in range(len(items))]

    # --- one chunk: read what is unknown, set, re-read stale rows once, set again ---
    def _publish_chunk(self, chunk: list[_Row], results: dict[int, StockResult]) -> None:
        for row in chunk:
            row.change_from = row.update.known_quantity
        self._read_levels([r for r in chunk if r.update.known_quantity is None], results)
        pending = [r for r in chunk if r.index not in results]
        for _ in range(MAX_MUTATIONS_PER_CHUNK):
            if not pending:
                return
            stale = self._set_quantities(pending, results)
            for row in stale:
                row.reread = True
            self._read_levels(stale, results)
            pending = [r for r in pending if r.index not in results]
        for row in pending:
            message = "Shopify kept refusing this row's call; try again"
            results[row.index] = _fail(row.update, RetryableError(message, channel=CHANNEL))

    def _read_levels(self, rows: list[_Row], results: dict[int, StockResult]) -> None:
        """Set each row's `change_from` to the live `available` (None: no level there yet)."""
        by_location: dict[str, list[_Row]] = {}
        for row in rows:
            by_location.setdefault(row.location_gid, []).append(row)
        for location, group in by_location.items():
            ids = list(dict.fromkeys(r.item_gid for r in group))
            data = self._post(
                documents.INVENTORY_LEVELS_QUERY, {"ids": ids, "locationId": location}
            )
            nodes = data.get("nodes") if isinstance(data, dict) else None
            if not isinstance(nodes, list) or len(nodes) != len(ids):
                raise RetryableError(
                    "Shopify answered the level read without nodes", channel=CHANNEL
                )
            found = dict(zip(ids, nodes, strict=True))
            for row in group:
                node = found[row.item_gid]
                if not isinstance(node, dict) or node.get("id") != row.item_gid:
                    message = f"Shopify has no inventory item {row.item_gid}"
                    results[row.index] = _fail(row.update, PermanentError(message, channel=CHANNEL))
                    continue
                row.change_from = _available(node.get("inventoryLevel"))

    def _set_quantities(self, rows: list[_Row], results: dict[int, StockResult]) -> list[_Row]:
        """One mutation for `rows`; records final results and returns the rows to re-read."""
        variables = {
            "key": str(uuid.uuid4()),  # a new request: a new idempotency key
            "input": {
                "name": documents.QUANTITY_NAME,
                "reason": documents.REASON,
                "quantities": [
                    {
                        "inventoryItemId": r.item_gid,
                        "locationId": r.location_gid,
                        "quantity": r.target,
                        "changeFromQuantity": r.change_from,
                    }
                    for r in rows
                ],
            },
        }
        data = self._post(documents.SET_QUANTITIES_MUTATION, variables)
        payload = data.get("inventorySetQuantities") if isinstance(data, dict) else None
        if not isinstance(payload, dict):
            failure = RetryableError("Shopify answered without a mutation payload", channel=CHANNEL)
            for row in rows:
                results[row.index] = _fail(row.update, failure)
            return []
        user_errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
        if not user_errors:
            after = _quantities_after(payload.get("inventoryAdjustmentGroup"))
            for row in rows:
                shown = after.get(row.pair, row.target)
                results[row.index] = StockResult(row.update.listing, shown=shown)
            return []
        return self._attribute(rows, user_errors, results)

    def _attribute(
        self, rows: list[_Row], user_errors: list[dict[str, Any]], results: dict[int, StockResult]
    ) -> list[_Row]:
        """Map userErrors to rows by their `field` path; nothing was applied in this call."""
        stale: list[_Row] = []
        unattributed: list[dict[str, Any]] = []
        for error in user_errors:
            position = _row_position(error.get("field"), len(rows))
            if position is None:
                unattributed.append(error)
                continue
            row = rows[position]
            if row.index in results or row in stale:
                continue
            code = error.get("code")
            detail = f"{code}: {error.get('message')}"
            if code in STALE_CODES and not row.reread:
                stale.append(row)
            elif code in STALE_CODES:
                message = f"the level keeps moving on Shopify ({detail}); try again later"
                results[row.index] = _fail(row.update, RetryableError(message, channel=CHANNEL))
            elif code in ROW_PERMANENT_CODES:
                results[row.index] = _fail(row.update, PermanentError(detail, channel=CHANNEL))
            else:
                results[row.index] = _fail(row.update, RetryableError(detail, channel=CHANNEL))
        if unattributed:
            failure = _unattributed_failure(unattributed)
            for row in rows:
                if row.index not in results:
                    results[row.index] = _fail(row.update, failure)
            return []
        return stale


def _chunks(rows: list[_Row]) -> list[list[_Row]]:
    """<= ROWS_PER_CALL rows a call, never the same item and location twice in one call."""
    chunks: list[list[_Row]] = []
    current: list[_Row] = []
    pairs: set[tuple[str, str]] = set()
    for row in rows:
        if len(current) >= ROWS_PER_CALL or row.pair in pairs:
            chunks.append(current)
            current, pairs = [], set()
        current.append(row)
        pairs.add(row.pair)
    if current:
        chunks.append(current)
    return chunks


def _available(level: Any) -> int | None:
    if not isinstance(level, dict):
        return None
    for quantity in level.get("quantities") or []:
        if isinstance(quantity, dict) and quantity.get("name") == documents.QUANTITY_NAME:
            return int(quantity["quantity"])
    return None


def _quantities_after(group: Any) -> dict[tuple[str, str], int]:
    after: dict[tuple[str, str], int] = {}
    if not isinstance(group, dict):
        return after
    for change in group.get("changes") or []:
        try:
            if change.get("name") != documents.QUANTITY_NAME:
                continue
            pair = (change["item"]["id"], change["location"]["id"])
            if change.get("quantityAfterChange") is not None:
                after[pair] = int(change["quantityAfterChange"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    return after


def _row_position(field: Any, size: int) -> int | None:
    """["input", "quantities", "3", ...] -> 3, when it names a row of this call."""
    if not isinstance(field, list) or len(field) < 3:
        return None
    if field[0] != "input" or field[1] != "quantities" or not str(field[2]).isdigit():
        return None
    position = int(field[2])
    return position if position < size else None


def _unattributed_failure(errors: list[dict[str, Any]]) -> ChannelError:
    detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    if all(e.get("code") in REQUEST_PERMANENT_CODES for e in errors):
        return PermanentError(detail, channel=CHANNEL)
    return RetryableError(detail, channel=CHANNEL)


def publisher(secret: ShopifySecret, http: httpx.Client) -> ShopifyStockPublisher:
    """The registry's outbound factory."""
    return ShopifyStockPublisher(secret, http)
