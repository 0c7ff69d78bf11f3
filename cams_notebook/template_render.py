"""A template's variables filled in: where variables sit (slots), and the rendered result.

Pure code, no I/O. A slot is one text of a component (or of a button or card) that may hold
``$(name)`` variables; :func:`component_slots` lists them in display order, which is the
order of :attr:`~cams_notebook.templates.Template.variables`. :func:`render_components`
fills values in; unfilled variables stay visible as ``$(name)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, SupportsFloat

from .template_parts import TemplateButton, TemplateCard, TemplateComponent

__all__ = ["VARIABLE_RE", "RenderedButton", "RenderedCard", "RenderedHeader", "RenderedTemplate",
           "Slot", "component_slots", "display_values", "fill", "is_null", "render_components"]

VARIABLE_RE: Final = re.compile(r"\$\(([A-Za-z0-9_]+)\)")


@dataclass(frozen=True, slots=True)
class RenderedHeader:
    """A filled-in header: ``kind`` is text, image, video, document or location."""

    kind: str
    text: str | None = None
    url: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    thumb_url: str | None = None
    duration: int | None = None
    latitude: str | None = None
    longitude: str | None = None
    location_name: str | None = None
    location_address: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedButton:
    """A filled-in button as the recipient sees it."""

    type: str
    text: str
    url: str | None = None
    phone_number: str | None = None
    coupon_code: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """A filled-in carousel card."""

    header: RenderedHeader | None
    body: str
    buttons: tuple[RenderedButton, ...]


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    """A template with its variables filled in; unfilled ones stay visible as ``$(name)``."""

    header: RenderedHeader | None
    body: str
    footer: str | None
    buttons: tuple[RenderedButton, ...]
    cards: tuple[RenderedCard, ...] = ()
    missing: tuple[str, ...] = ()
    """Variables that had no usable value and were left as ``$(name)``."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One text of a template that may hold variables: where it is, and whether it is a URL."""

    where: str
    text: str
    is_url: bool


def is_null(value: object) -> bool:
    """None, float NaN and pandas' NA/NaT: the shapes an empty spreadsheet cell takes."""
    if isinstance(value, str):
        return False
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, SupportsFloat):  # floats, numpy scalars, Decimal
        try:
            return math.isnan(value)
        except (TypeError, ValueError, OverflowError):  # e.g. Decimal('sNaN')
            return False
    return False


def display_values(params: Mapping[str, object] | None) -> dict[str, str]:
    """The values worth showing: text keys, non-empty values, as text."""
    return {
        k: v if isinstance(v, str) else str(v)
        for k, v in (params or {}).items()
        if isinstance(k, str) and not is_null(v)
    }


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its variables replaced; unknown ones stay as ``$(name)``."""
    # one pass, so a value containing "$(x)" is never expanded again
    return VARIABLE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def component_slots(comp: TemplateComponent, where: str) -> Iterator[Slot]:
    """The texts of one component (buttons and cards included) that may hold variables."""
    fields = (
        ("Text", comp.text, False),
        ("Url", comp.url, True),
        ("Caption", comp.caption, False),
        ("FileName", comp.file_name, False),
        ("ThumbUrl", comp.thumb_url, True),
        ("LocationName", comp.location_name, False),
        ("LocationAddress", comp.location_address, False),
        ("OfferExpirationTimeMs", comp.offer_expiration_time_ms, False),
    )
    for name, text, is_url in fields:
        if text:
            yield Slot(f"{where}.{name}", text, is_url)
    for i, b in enumerate(comp.buttons):
        for name, text, is_url in (
            ("Text", b.text, False),
            ("Url", b.url, True),
            ("PhoneNumber", b.phone_number, False),
            ("CouponCode", b.coupon_code, False),
        ):
            if text:
                yield Slot(f"{where}.Buttons[{i}].{name}", text, is_url)
    for i, card in enumerate(comp.cards):
        for j, sub in enumerate(card.card_components):
            yield from component_slots(sub, f"{where}.Cards[{i}].CardComponents[{j}]")


def render_components(components: Iterable[TemplateComponent], values: Mapping[str, str],
                      missing: tuple[str, ...]) -> RenderedTemplate:
    """Components in display order, filled with ``values`` (see :func:`display_values`)."""
    header: RenderedHeader | None = None
    body, footer = "", None
    buttons: list[RenderedButton] = []
    cards: list[RenderedCard] = []
    for comp in components:
        kind = comp.type.upper()
        if kind == "HEADER":
            header = _render_header(comp, values)
        elif kind == "BODY":
            body = fill(comp.text or "", values)
            if comp.add_secret_recommendation:  # WhatsApp's fixed English wording
                body += " For your security, do not share this code."
        elif kind == "FOOTER":
            if comp.text is not None:
                footer = fill(comp.text, values)
            elif comp.code_expiration_minutes is not None:
                footer = f"This code expires in {comp.code_expiration_minutes} minutes."
        elif kind == "BUTTONS":
            buttons += (_render_button(b, values) for b in comp.buttons)
        elif kind == "CAROUSEL":
            cards += (_render_card(card, values) for card in comp.cards)
    return RenderedTemplate(header, body, footer, tuple(buttons), tuple(cards), missing)


def _fill_some(text: str | None, values: Mapping[str, str]) -> str | None:
    return None if text is None else fill(text, values)


def _render_header(comp: TemplateComponent, values: Mapping[str, str]) -> RenderedHeader:
    fmt = (comp.format or ("IMAGE" if comp.is_media else "TEXT")).lower()
    return RenderedHeader(
        kind=fmt,
        text=_fill_some(comp.text, values),
        url=_fill_some(comp.url, values),
        file_name=_fill_some(comp.file_name, values),
        file_type=comp.file_type,
        thumb_url=_fill_some(comp.thumb_url, values),
        duration=comp.duration,
        latitude=comp.latitude,
        longitude=comp.longitude,
        location_name=_fill_some(comp.location_name, values),
        location_address=_fill_some(comp.location_address, values),
    )


def _render_button(b: TemplateButton, values: Mapping[str, str]) -> RenderedButton:
    return RenderedButton(
        type=b.type.upper(),
        text=fill(b.text or "", values),
        url=_fill_some(b.url, values),
        phone_number=b.phone_number,
        coupon_code=_fill_some(b.coupon_code, values),
    )


def _render_card(card: TemplateCard, values: Mapping[str, str]) -> RenderedCard:
    header: RenderedHeader | None = None
    body = ""
    buttons: list[RenderedButton] = []
    for comp in card.card_components:
        kind = comp.type.upper()
        if kind == "HEADER":
            header = _render_header(comp, values)
        elif kind == "BODY":
            body = fill(comp.text or "", values)
        elif kind == "BUTTONS":
            buttons += [_render_button(b, values) for b in comp.buttons]
    return RenderedCard(header, body, tuple(buttons))
