"""GTINs, the catalog file and discovery's matching: the pure rules onboarding stands on."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.catalog_file import read_catalog
from shared.domain.gtin import BadGtin, check_digit, ean13, gtin_or_none, normalize_gtin
from shared.domain.matching import (
    DUPLICATE_SKU,
    SHARED_GTIN,
    TWO_SKUS,
    ChannelListing,
    KeelSku,
    discover,
)

# --- GTINs ---


@pytest.mark.parametrize(
    ("given_", "gtin14"),
    [
        ("4006381333931", "04006381333931"),  # EAN-13
        ("036000291452", "00036000291452"),  # UPC-A is the EAN-13 with a leading zero
        ("0036000291452", "00036000291452"),
        ("00036000291452", "00036000291452"),
        ("96385074", "00000096385074"),  # EAN-8
        (" 4006381-333931 ", "04006381333931"),
    ],
)
def test_gtins_of_every_length_compare_as_gtin14(given_: str, gtin14: str) -> None:
    assert normalize_gtin(given_) == gtin14


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("4006381333932", "check digit"),
        ("40063813339", "11 digits"),
        ("40063813339A1", "digits"),
        ("", "digits"),
        ("00000000000000", "zeros"),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", "digits"),  # Arabic-Indic digits are digits to Python, not to GS1
    ],
)
def test_a_bad_gtin_says_why(bad: str, says: str) -> None:
    with pytest.raises(BadGtin, match=says):
        normalize_gtin(bad)
    assert gtin_or_none(bad) is None


@given(st.text("0123456789", min_size=12, max_size=12).filter(lambda s: set(s) != {"0"}))
def test_a_body_with_its_check_digit_is_a_gtin_and_any_other_digit_is_not(body: str) -> None:
    good = body + str(check_digit(body))
    assert normalize_gtin(good) == good.zfill(14)
    assert ean13(normalize_gtin(good)) == good.zfill(13)
    wrong = body + str((check_digit(body) + 1) % 10)
    with pytest.raises(BadGtin):
        normalize_gtin(wrong)


# --- the catalog file ---

GOOD_CSV = (
    "sku,name,gtin,cost,price,currency,on_hand,safety_stock\n"
    "MUG,Blue mug,4006381333931,4.10,12.50,EUR,20,2\n"
    "TEE,T-shirt,,9.00,24.95,,6,\n"
    "\n"
)


def test_a_good_csv_reads_into_rows() -> None:
    read = read_catalog(GOOD_CSV.encode(), "catalog.csv")
    assert read.ok and not read.warnings
    mug, tee = read.rows
    assert (mug.line, mug.sku, mug.gtin, mug.price, mug.on_hand) == (
        2, "MUG", "04006381333931", Decimal("12.50"), 20,
    )  # fmt: skip
    assert (tee.gtin, tee.currency, tee.safety_stock, tee.cost) == (None, "EUR", None, Decimal(9))


def test_a_spreadsheet_csv_with_semicolons_a_bom_and_extra_columns_reads_with_a_warning() -> None:
    raw = "\ufeffSKU;Name;Colour;Price\nMUG;Blue mug;blue;12.50\n".encode()
    read = read_catalog(raw, "export.csv")
    assert read.ok
    assert read.rows[0].price == Decimal("12.50")
    assert read.warnings == ("ignored column(s): 'colour'",)


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_kept() -> None:
    raw = (
        b"sku,name,gtin,cost,price,currency,on_hand\n"
        b"MUG,Blue mug,4006381333931,4.10,12.50,EUR,20\n"  # line 2: good
        b"MUG,Blue mug again,,,,,\n"  # 3: duplicate SKU
        b"LAMP,Lamp,4006381333932,,,,\n"  # 4: check digit
        b"TEE,Tee,,,,,-1\n"  # 5: negative stock
        b"CAP,Cap,,,9.99,EURO,\n"  # 6: currency
        b"HAT,Hat,,,12;50,,\n"  # 7: amount
        b'SOCK,Sock,,,"1,50",,\n'  # 8: a comma
        b",Nameless,,,,,\n"  # 9: no SKU
    )
    read = read_catalog(raw, "catalog.csv")
    assert not read.ok and read.rows == ()
    by_line = {p.line: (p.field, p.message) for p in read.problems}
    assert by_line[3][0] == "sku" and "duplicate SKU MUG (first on line 2)" in by_line[3][1]
    assert by_line[4][0] == "gtin" and "check digit" in by_line[4][1]
    assert by_line[5] == ("on_hand", "-1 is negative")
    assert by_line[6][0] == "currency" and "EURO" in by_line[6][1]
    assert by_line[7][0] == "price" and "not an amount" in by_line[7][1]
    assert by_line[8][0] == "price" and "dot" in by_line[8][1]
    assert by_line[9] == ("sku", "empty")
    assert 2 not in by_line


def test_a_file_without_the_required_columns_or_rows_is_refused() -> None:
    assert [str(p) for p in read_catalog(b"name,price\nMug,1.00\n").problems] == [
        "line 1: sku: missing column (required)"
    ]
    assert not read_catalog(b"sku,name\n").ok
    assert not read_catalog(b"").ok
    assert "UTF-8" in str(read_catalog("sku,name\nM,Caf\xe9\n".encode("latin-1")).problems[0])


def test_the_same_catalog_as_json_reads_the_same_and_names_items_by_position() -> None:
    items = [
        {"sku": "MUG", "name": "Blue mug", "gtin": "4006381333931", "price": 12.50, "on_hand": 20},
        {"sku": "TEE", "name": "T-shirt", "price": "24.95", "on_hand": 2.5},
    ]
    read = read_catalog(json.dumps({"products": items}).encode(), "catalog.json")
    assert [str(p) for p in read.problems] == ["line 2: on_hand: '2.5' is not a whole number"]
    items[1]["on_hand"] = 6
    read = read_catalog(json.dumps(items).encode(), "catalog.json")
    assert read.ok and read.rows[0].price == Decimal("12.50") and read.rows[1].on_hand == 6


def test_two_skus_with_one_gtin_import_with_a_warning() -> None:
    raw = b"sku,name,gtin\nA,A,4006381333931\nB,B,4006381333931\n"
    read = read_catalog(raw)
    assert read.ok and "also A's" in read.warnings[0]


# --- discovery ---


def listing(
    lid: str, sku: str | None, gtin: str | None = None, *, pid: str | None = None, mp: str = ""
) -> ChannelListing:
    return ChannelListing(lid, {"listing_id": lid}, sku, gtin, pid, 1, None, marketplace=mp)


G1, G2 = "04006381333931", "00036000291452"


def test_listings_match_by_sku_then_gtin_then_product_id() -> None:
    skus = [KeelSku("MUG", G1), KeelSku("TEE", G2), KeelSku("LAMP")]
    found = discover(
        skus,
        [
            listing("1", "MUG", pid="B01", mp="nl"),
            listing("2", "tee-old", G2, mp="nl"),
            listing("3", "MUG", pid="B01", mp="de"),
            listing("4", "mug-de-2", pid="B01", mp="fr"),  # the ASIN the .nl listing holds
            listing("5", "UNKNOWN", mp="nl"),
        ],
        groups=[("", "nl"), ("", "de"), ("", "fr")],
    )
    assert {(m.sku, m.listing.listing_id, m.by) for m in found.matched} == {
        ("MUG", "1", "sku"), ("TEE", "2", "gtin"), ("MUG", "3", "sku"),
        ("MUG", "4", "product_id"),
    }  # fmt: skip
    assert [lst.listing_id for lst in found.unmatched_on_channel] == ["5"]
    assert ("LAMP", ("", "nl")) in found.unmatched_in_keel
    assert ("TEE", ("", "de")) in found.unmatched_in_keel
    assert not found.conflicts


def test_conflicts_of_each_kind_are_reported_and_never_matched() -> None:
    skus = [KeelSku("MUG", G1), KeelSku("MUG-2", G1), KeelSku("TEE", G2), KeelSku("LAMP")]
    found = discover(
        skus,
        [
            listing("1", "LAMP"),
            listing("2", "LAMP"),  # two variants with one SKU (Shopify allows it)
            listing("3", "other", G1),  # GTIN of MUG and MUG-2
            listing("4", "TEE", G1),  # SKU says TEE, GTIN says MUG/MUG-2
        ],
    )
    assert not found.matched
    kinds = {c.kind: c for c in found.conflicts}
    assert set(kinds) == {DUPLICATE_SKU, SHARED_GTIN, TWO_SKUS}
    assert [lst.listing_id for lst in kinds[DUPLICATE_SKU].listings] == ["1", "2"]
    assert kinds[SHARED_GTIN].skus == ("MUG", "MUG-2")
    assert kinds[TWO_SKUS].skus == ("MUG", "MUG-2", "TEE")
    assert "LAMP" not in {sku for sku, _ in found.unmatched_in_keel}  # in a conflict, not missing


def test_linked_listings_are_known_and_a_second_listing_for_a_linked_sku_is_a_conflict() -> None:
    found = discover(
        [KeelSku("MUG"), KeelSku("TEE")],
        [listing("1", "MUG"), listing("2", "MUG"), listing("3", "TEE")],
        linked={("", ""): {"1": "MUG"}},
    )
    assert [(m.sku, m.by) for m in found.already_linked] == [("MUG", "linked")]
    assert [(m.sku, m.listing.listing_id) for m in found.matched] == [("TEE", "3")]
    assert [c.kind for c in found.conflicts] == [DUPLICATE_SKU]
    assert found.unmatched_in_keel == []


@given(
    st.lists(st.sampled_from(["A", "B", "C", "D"]), unique=True),
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", "x", None]), st.sampled_from([G1, G2, None])),
        max_size=8,
    ),
)
def test_discovery_never_links_one_listing_twice_nor_one_sku_twice_in_one_place(
    skus: list[str], seen: list[tuple[str | None, str | None]]
) -> None:
    keel = [KeelSku(s, G1 if s in "AB" else None) for s in skus]
    shown = [listing(str(n), sku, gtin) for n, (sku, gtin) in enumerate(seen)]
    found = discover(keel, shown)
    ids = [m.listing.listing_id for m in found.matched]
    assert len(ids) == len(set(ids))
    assert len({m.sku for m in found.matched}) == len(found.matched)
    accounted = ids + [lst.listing_id for lst in found.unmatched_on_channel]
    accounted += [lst.listing_id for c in found.conflicts for lst in c.listings]
    assert sorted(accounted, key=int) == [lst.listing_id for lst in shown]  # each once


def test_json_values_that_are_not_text_or_numbers_are_refused() -> None:
    items = [{"sku": ["MUG"], "name": "Mug"}, {"sku": "TEE", "name": True, "active": True}]
    read = read_catalog(json.dumps(items).encode(), "catalog.json")
    assert [(p.line, p.field) for p in read.problems] == [(1, "sku"), (2, "name")]
    assert read.rows == ()
