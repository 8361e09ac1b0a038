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

from shared.channels.errors import ChannelError, PermanentError, RetryableError, classify_status
from shared.channels.port import StockResult, StockUpdate
from shared.channels.shopify import graphql as documents
from shared.channels.shopify.secret import ShopifySecret

CHANNEL = "shopify"
ROWS_PER_CALL = 250
MAX_MUTATIONS_PER_CHUNK = 3  # first try, one after a stale re-read, one for rows held back
MAX_PACING_SLEEP_S = 5.0
LOW_WATER_FRACTION = 0.1  # below this share of the bucket, wait before the next call
GRAPHQL_PATH = f"/admin/api/{documents.API_VERSION}/graphql.json"

# Top-level `errors[].extensions.code`: a retry can succeed / a retry gets the same answer.
# Codes not listed are treated as retryable (an unknown failure should not be dropped).
RETRYABLE_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
PERMANENT_CODES = frozenset(
    {"ACCESS_DENIED", "MAX_COST_EXCEEDED", "MAX_INPUT_SIZE_EXCEEDED", "BAD_REQUEST"}
)
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
        retry (that would sell the unit twice); the order's own trigger publishes again."""
        known, live = self.update.known_quantity, self.change_from
        if self.reread and known is not None and live is not None and live < known:
            return min(self.update.quantity, live)
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
        self._url = secret.admin_base_url.rstrip("/") + GRAPHQL_PATH
        self._headers = {
            "X-Shopify-Access-Token": secret.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
        self._sleep = sleep
        self._pause_s = 0.0  # owed to the cost bucket before the next call

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

    # --- one HTTP call, classified ---
    def _post(self, query: str, variables: dict[str, Any]) -> Any:
        """The `data` of a successful answer; raises the ChannelError the whole call failed with."""
        if self._pause_s > 0:
            self._sleep(self._pause_s)
            self._pause_s = 0.0
        try:
            response = self._http.post(
                self._url, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.TransportError as exc:  # timeouts, refused connections, resets
            raise RetryableError(f"{type(exc).__name__}: {exc}", channel=CHANNEL) from exc
        error_class = classify_status(response.status_code)
        if error_class is not None:
            raise _http_error(error_class, response)
        try:
            body = response.json()
        except ValueError as exc:
            message = f"Shopify answered HTTP {response.status_code} without JSON"
            raise RetryableError(message, channel=CHANNEL, status=response.status_code) from exc
        if not isinstance(body, dict):
            raise RetryableError("Shopify answered with a non-object body", channel=CHANNEL)
        cost = (body.get("extensions") or {}).get("cost")
        errors = body.get("errors")
        if errors:
            raise _graphql_error(errors, cost if isinstance(cost, dict) else {})
        self._pace(cost if isinstance(cost, dict) else {})
        return body.get("data")

    def _pace(self, cost: dict[str, Any]) -> None:
        """Owe the bucket a short wait when it is nearly empty (bounded)."""
        status = cost.get("throttleStatus") or {}
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
            requested = float(cost.get("requestedQueryCost") or 0)
        except (KeyError, TypeError, ValueError):
            return
        floor = max(maximum * LOW_WATER_FRACTION, requested)
        if available < floor and rate > 0:
            self._pause_s = min(MAX_PACING_SLEEP_S, (floor - available) / rate)


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


def _http_error(error_class: type[ChannelError], response: httpx.Response) -> ChannelError:
    message = f"HTTP {response.status_code} from Shopify: {response.text[:200]}"
    if error_class is RetryableError:
        return RetryableError(
            message,
            channel=CHANNEL,
            status=response.status_code,
            retry_after_s=_retry_after(response.headers.get("retry-after")),
        )
    return error_class(message, channel=CHANNEL, status=response.status_code)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: let the queue's backoff decide


def _graphql_error(errors: Any, cost: dict[str, Any]) -> ChannelError:
    """Top-level `errors` (HTTP 200): THROTTLED waits for the bucket; the rest by code."""
    listed = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    codes = [(e.get("extensions") or {}).get("code") for e in listed]
    detail = "; ".join(str(e.get("message")) for e in listed) or str(errors)[:200]
    if "THROTTLED" in codes:
        return RetryableError(
            f"Shopify throttled the call: {detail}",
            channel=CHANNEL,
            status=200,
            retry_after_s=_throttle_wait(cost),
        )
    # Without a code: a document or variables Shopify rejects, the same every time.
    if all(code is None or code in PERMANENT_CODES for code in codes):
        return PermanentError(f"Shopify refused the call: {detail}", channel=CHANNEL, status=200)
    return RetryableError(f"Shopify failed the call: {detail}", channel=CHANNEL, status=200)


def _throttle_wait(cost: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds the requested cost again."""
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return max(0.0, (requested - available) / rate)


def publisher(secret: ShopifySecret, http: httpx.Client) -> ShopifyStockPublisher:
    """The registry's outbound factory."""
    return ShopifyStockPublisher(secret, http)
