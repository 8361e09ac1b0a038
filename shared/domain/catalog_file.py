"""A merchant's catalog file (`keel catalog import`): read, checked row by row, all or nothing.

CSV with a header row (comma or semicolon separated, as spreadsheets save it; UTF-8, with or
without a byte-order mark) or JSON (a list of objects, or `{"products": [...]}`) with the same
names: `sku, name, gtin, cost, price, currency, on_hand, safety_stock`. `sku` and `name` are
required; other columns are ignored with a warning. Every bad row is reported with its line
(CSV: the file's line, the header being line 1; JSON: the item's position) and what is wrong;
a file with any problem is refused whole, so an import never leaves half a catalog behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.domain.gtin import BadGtin, normalize_gtin

COLUMNS = ("sku", "name", "gtin", "cost", "price", "currency", "on_hand", "safety_stock")
REQUIRED = ("sku", "name")
MAX_SKU_LENGTH = 100

# ISO 4217 active codes (2026): a typo like "EURO" or "ERU" is refused, not stored.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class CatalogRow:
    """One SKU as the file gives it. None: the file leaves it out (Keel keeps what it has)."""

    line: int
    sku: str
    name: str
    gtin: str | None = None  # GTIN-14
    cost: Decimal | None = None
    price: Decimal | None = None
    currency: str = "EUR"
    on_hand: int | None = None
    safety_stock: int | None = None


@dataclass(frozen=True)
class RowProblem:
    line: int  # 0: the file as a whole
    field: str
    message: str
    sku: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.field}: {self.message}"


@dataclass(frozen=True)
class CatalogFile:
    rows: tuple[CatalogRow, ...]
    problems: tuple[RowProblem, ...]
    warnings: tuple[str, ...]
    digest: str  # the file's SHA-256 (its stock receipts are referenced by it)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_catalog(raw: bytes, name: str = "") -> CatalogFile:
    """The rows of a catalog file, or every problem in it (`name` picks JSON by `.json`)."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = RowProblem(0, "encoding", f"not UTF-8 (byte {exc.start}): save it as UTF-8")
        return CatalogFile((), (problem,), (), digest)
    as_json = name.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{")
    records, problems, warnings = _json_records(text) if as_json else _csv_records(text)
    if problems:
        return CatalogFile((), tuple(problems), tuple(warnings), digest)
    rows: list[CatalogRow] = []
    first_line: dict[str, int] = {}
    gtins: dict[str, str] = {}
    for line, record in records:
        row = _row(line, record, problems)
        if row is None:
            continue
        if row.sku in first_line:
            problems.append(
                RowProblem(line, "sku", f"duplicate SKU {row.sku} (first on line "
                           f"{first_line[row.sku]})", row.sku)
            )  # fmt: skip
            continue
        first_line[row.sku] = line
        if row.gtin is not None:
            if row.gtin in gtins:
                warnings.append(
                    f"line {line}: GTIN {row.gtin} is also {gtins[row.gtin]}'s: channels cannot "
                    "tell these SKUs apart by GTIN (discovery reports it as a conflict)"
                )
            gtins.setdefault(row.gtin, row.sku)
        rows.append(row)
    if not rows and not problems:
        problems.append(RowProblem(0, "rows", "the file holds no products"))
    ok_rows = () if problems else tuple(rows)
    return CatalogFile(ok_rows, tuple(problems), tuple(warnings), digest)


Records = list[tuple[int, dict[str, Any]]]  # (line, the row's values by column)


def _csv_records(text: str) -> tuple[Records, list[RowProblem], list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowProblem(0, "header", "the file is empty")], []
    except csv.Error as exc:
        return [], [RowProblem(1, "header", f"not CSV: {exc}")], []
    names = [h.strip().lower() for h in header]
    problems, warnings = _check_header(names)
    if problems:
        return [], problems, warnings
    records: Records = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # a blank line (spreadsheets leave them at the end)
            if len(values) > len(names):
                problems.append(
                    RowProblem(line, "columns", f"{len(values)} values for {len(names)} columns")
                )
                continue
            records.append((line, dict(zip(names, values, strict=False))))
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num, "csv", str(exc)))
    return records, problems, warnings


def _json_records(text: str) -> tuple[Records, list[RowProblem], list[str]]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        return [], [RowProblem(0, "json", f"not JSON: {exc}")], []
    if isinstance(data, dict):
        data = data.get("products")
    if not isinstance(data, list):
        return [], [RowProblem(0, "json", 'expected a list of products or {"products": [...]}')], []
    records: Records = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            problems.append(RowProblem(n, "item", "not an object"))
            continue
        seen.update(str(k).lower() for k in item)
        records.append((n, {str(k).lower(): v for k, v in item.items()}))
    missing = [c for c in REQUIRED if records and c not in seen]
    problems.extend(RowProblem(0, c, "no item has it (required)") for c in missing)
    unknown = sorted(seen - set(COLUMNS))
    warnings = [f"ignored field(s): {', '.join(unknown)}"] if unknown else []
    return records, problems, warnings


def _check_header(names: list[str]) -> tuple[list[RowProblem], list[str]]:
    problems = [RowProblem(1, c, "missing column (required)") for c in REQUIRED if c not in names]
    twice = sorted({n for n in names if names.count(n) > 1 and n})
    problems.extend(RowProblem(1, n, "column given twice") for n in twice)
    unknown = [n for n in names if n not in COLUMNS]
    warnings = [f"ignored column(s): {', '.join(repr(n) for n in unknown)}"] if unknown else []
    return problems, warnings


def _row(line: int, record: dict[str, Any], problems: list[RowProblem]) -> CatalogRow | None:
    found: list[RowProblem] = []

    def bad(field: str, message: str) -> None:
        found.append(RowProblem(line, field, message, sku or None))

    for field, value in record.items():  # JSON: a list, an object or true is not a value
        scalar = isinstance(value, str | int | Decimal | None) and not isinstance(value, bool)
        if field in COLUMNS and not scalar:
            found.append(RowProblem(line, field, f"{value!r} is not a text or a number"))
    if found:
        problems.extend(found)
        return None
    sku = _text(record.get("sku"))
    name = _text(record.get("name"))
    if not sku:
        bad("sku", "empty")
    elif len(sku) > MAX_SKU_LENGTH:
        bad("sku", f"longer than {MAX_SKU_LENGTH} characters")
    elif any(unicodedata.category(c)[0] in "CZ" and c != " " for c in sku) or "  " in sku:
        bad("sku", f"{sku!r} holds control characters or odd spaces")
    if not name:
        bad("name", "empty")
    gtin = None
    if raw_gtin := _text(record.get("gtin")):
        try:
            gtin = normalize_gtin(raw_gtin)
        except BadGtin as exc:
            bad("gtin", str(exc))
    cost = _money(record.get("cost"), "cost", bad)
    price = _money(record.get("price"), "price", bad)
    if price is not None and price == 0:
        bad("price", "must be above zero")
    currency = (_text(record.get("currency")) or "EUR").upper()
    if currency not in CURRENCIES:
        bad("currency", f"unknown currency {currency!r} (ISO 4217, e.g. EUR)")
    on_hand = _count(record.get("on_hand"), "on_hand", bad)
    safety = _count(record.get("safety_stock"), "safety_stock", bad)
    problems.extend(found)
    if found:
        return None
    return CatalogRow(line, sku, name, gtin, cost, price, currency, on_hand, safety)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return str(value)
    return str(value).strip() if isinstance(value, str) else repr(value)


def _money(value: Any, field: str, bad: Any) -> Decimal | None:
    text = _text(value)
    if not text:
        return None
    if "," in text:
        bad(field, f"{text!r}: write amounts with a dot (12.50), without thousands separators")
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        bad(field, f"{text!r} is not an amount")
        return None
    if not amount.is_finite():
        bad(field, f"{text!r} is not an amount")
        return None
    if amount < 0:
        bad(field, f"{text} is negative")
        return None
    if amount != amount.quantize(Decimal("0.01")):
        bad(field, f"{text} has more than two decimals")
        return None
    return amount.quantize(Decimal("0.01"))


def _count(value: Any, field: str, bad: Any) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        bad(field, f"{text!r} is not a whole number")
        return None
    if not number.is_finite() or number != number.to_integral_value():
        bad(field, f"{text!r} is not a whole number")
        return None
    if number < 0:
        bad(field, f"{text} is negative")
        return None
    return int(number)
