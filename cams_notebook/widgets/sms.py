"""How many SMS a fallback text costs: GSM-7 or UCS-2, and the number of segments.

Pure arithmetic, no I/O. A text that uses only the GSM 03.38 alphabet travels in 7-bit
septets: 160 fit in one SMS, and a longer text is split into parts of 153 (each part gives
7 septets to its concatenation header). Characters of the GSM extension table
(``^ { } \\ [ ~ ] | €`` and form feed) are sent as an escape plus the character, so they
count 2, and the pair is never split across parts. Any other character switches the whole
text to UCS-2: 70 UTF-16 code units in one SMS, 67 per part, where a character outside the
Basic Multilingual Plane (most emoji) takes 2 units that are likewise never split.

Written here rather than taken from a library because the well-kept SMS libraries are
gateway clients; the rules above are the whole of what the preview needs.

>>> sms_info("Your parcel is on its way").segments
1
>>> sms_info("Entrega a caminho 🚚").encoding
'UCS-2'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SmsInfo", "is_gsm7", "sms_info", "ucs2_characters"]

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet (without the escape code itself)."""

GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
"""Characters reached through the escape code: 2 septets each."""

GSM7_SINGLE: Final = 160
GSM7_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsInfo:
    """The cost of one SMS text: encoding, length in units, segments, and the per-SMS limit."""

    encoding: Encoding
    length: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int
    """0 for an empty text."""
    per_segment: int
    """The limit that applies: 160/153 (GSM-7) or 70/67 (UCS-2)."""

    def __str__(self) -> str:
        plural = "" if self.segments == 1 else "s"
        return (f"{self.segments} SMS segment{plural}, {self.encoding}, {self.length} "
                f"{'characters' if self.encoding == 'GSM-7' else 'UCS-2 units'}")


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 alphabet or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def ucs2_characters(text: str) -> tuple[str, ...]:
    """The characters that force UCS-2 (not GSM-7), each once, in order of appearance."""
    return tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC
                               and ch not in GSM7_EXTENSION))


def _units(text: str, gsm: bool) -> list[int]:
    if gsm:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _parts(units: list[int], size: int) -> int:
    """Greedy split into parts of ``size`` units; a character's units stay in one part."""
    parts, used = 1, 0
    for n in units:
        if used + n > size:
            parts, used = parts + 1, 0
        used += n
    return parts


def sms_info(text: str) -> SmsInfo:
    """Encoding, length and segment count of ``text`` sent as SMS."""
    gsm = is_gsm7(text)
    units = _units(text, gsm)
    length = sum(units)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    encoding: Encoding = "GSM-7" if gsm else "UCS-2"
    if length == 0:
        return SmsInfo(encoding, 0, 0, single)
    if length <= single:
        return SmsInfo(encoding, length, 1, single)
    return SmsInfo(encoding, length, _parts(units, part), part)
