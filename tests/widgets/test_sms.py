"""GSM-7 / UCS-2 detection and SMS segment counts for the fallback preview."""

from __future__ import annotations

import pytest

from cams_notebook.widgets.sms import is_gsm7, sms_info, ucs2_characters


@pytest.mark.parametrize(("text", "segments", "length"), [
    ("", 0, 0),
    ("a" * 160, 1, 160),
    ("a" * 161, 2, 161),
    ("a" * 306, 2, 306),
    ("a" * 307, 3, 307),
])
def test_gsm7_text_fits_160_then_153_per_part(text: str, segments: int, length: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.segments, info.length) == ("GSM-7", segments, length)


def test_gsm7_per_segment_limit_changes_once_split() -> None:
    assert sms_info("a" * 160).per_segment == 160
    assert sms_info("a" * 161).per_segment == 153


def test_extension_characters_count_two_septets() -> None:
    assert sms_info("€" * 80) == sms_info("€" * 80)  # frozen value object
    assert (sms_info("€" * 80).length, sms_info("€" * 80).segments) == (160, 1)
    assert (sms_info("{" * 81).length, sms_info("{" * 81).segments) == (162, 2)


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 152 + 2 + 152 = 306 septets would fit 2 parts, but the € cannot straddle the boundary
    assert sms_info("a" * 152 + "€" + "a" * 152).segments == 3


def test_newlines_and_accented_gsm_letters_stay_gsm7() -> None:
    assert is_gsm7("Café à Zürich,\nÑ ß å")  # é à ü Ñ ß å are in the GSM alphabet
    assert not is_gsm7("Olá, até já")  # á is not


@pytest.mark.parametrize(("text", "segments", "length"), [
    ("ł" * 70, 1, 70),
    ("ł" * 71, 2, 71),
    ("ł" * 134, 2, 134),
    ("ł" * 135, 3, 135),
    ("🚚" * 35, 1, 70),
    ("🚚" * 36, 2, 72),
])
def test_ucs2_text_fits_70_then_67_per_part(text: str, segments: int, length: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.segments, info.length) == ("UCS-2", segments, length)


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 + 2 + 66 = 134 units would fit 2 parts of 67, but the emoji cannot be cut in half
    assert sms_info("ł" * 66 + "🚚" + "ł" * 66).segments == 3


def test_ucs2_characters_names_the_culprits_once() -> None:
    assert ucs2_characters("Entrega 🚚 a caminho 🚚 já") == ("🚚", "á")


def test_str_reads_as_a_sentence() -> None:
    assert str(sms_info("hi")) == "1 SMS segment, GSM-7, 2 characters"
    assert str(sms_info("ł" * 71)) == "2 SMS segments, UCS-2, 71 UCS-2 units"
