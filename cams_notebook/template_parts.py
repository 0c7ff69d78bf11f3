"""The parts of a template as the wire has them: components, buttons, carousel cards, and one
row of a template listing.

Pure pydantic models, no I/O. Each parses from the PascalCase wire names *and* from its
snake_case attribute names; wire fields not modelled here are kept (``model_extra``) and
written back by ``to_wire()``. :class:`~cams_notebook.templates.Template` is built from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_pascal

__all__ = ["AuditedModel", "EmptyDictIfNone", "EmptyListIfNone", "TemplateButton", "TemplateCard",
           "TemplateComponent", "TemplateSummary", "WireModel"]

_MEDIA_FORMATS: Final = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})


def _none_as_empty_list(value: object) -> object:
    return [] if value is None else value


def _none_as_empty_dict(value: object) -> object:
    return {} if value is None else value


EmptyDictIfNone = BeforeValidator(_none_as_empty_dict)
"""A wire ``null`` for a dict field reads as ``{}``."""
EmptyListIfNone = BeforeValidator(_none_as_empty_list)
"""A wire ``null`` for a list field reads as ``[]``."""


class WireModel(BaseModel):
    """A frozen model read from wire (PascalCase) or snake_case names, unknown fields kept."""

    # populate_by_name (not validate_by_name) so pydantic 2.6-2.10 accept snake_case too
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="allow", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        """The wire (PascalCase) dict: the fields that were given, unknown wire fields included."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class TemplateButton(WireModel):
    """One button of a BUTTONS component (or of a carousel card)."""

    type: str
    """PHONE_NUMBER, URL, QUICK_REPLY, COPY_CODE, ONE_TAP, ZERO_TAP, MPM, CATALOG or FLOW."""
    text: str | None = None
    url: str | None = None
    url_type: str | None = None
    """``static`` or ``dynamic``."""
    phone_number: str | None = None
    coupon_code: str | None = None
    is_opt_out: bool | None = None
    autofill_text: str | None = None
    package_name: str | None = None
    signature_hash: str | None = None
    flow_id: str | None = None
    flow_action: str | None = None
    navigate_screen: str | None = None


class TemplateComponent(WireModel):
    """One component: BODY, HEADER, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER."""

    type: str
    format: str | None = None
    """TEXT, IMAGE, DOCUMENT, VIDEO or LOCATION (headers and card headers)."""
    text: str | None = None
    url: str | None = None
    caption: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    thumb_url: str | None = None
    duration: int | None = None
    latitude: str | None = None
    longitude: str | None = None
    location_name: str | None = None
    location_address: str | None = None
    add_secret_recommendation: bool | None = None
    code_expiration_minutes: int | None = None
    has_expiration: bool | None = Field(default=None, alias="hasExpiration")  # sic, lower h
    offer_expiration_time_ms: str | None = None
    buttons: Annotated[list[TemplateButton], EmptyListIfNone] = []
    cards: Annotated[list[TemplateCard], EmptyListIfNone] = []

    @property
    def is_media(self) -> bool:
        """True for an image, video or document header (its ``url`` is the media link)."""
        return (self.format or "").upper() in _MEDIA_FORMATS or (
            self.format is None and self.url is not None and self.text is None
        )


class TemplateCard(WireModel):
    """One carousel card: its own HEADER (image or video), BODY and BUTTONS."""

    card_components: Annotated[list[TemplateComponent], EmptyListIfNone] = []


TemplateComponent.model_rebuild()  # it refers to TemplateCard, defined just above


class AuditedModel(WireModel):
    """A template or listing row, with its audit status read as :attr:`approved`."""

    @property
    def approved(self) -> bool:
        """True when the audit status is ``pass`` (others: fail, auditing, unaudit)."""
        return (getattr(self, "audit_status", None) or "").lower() == "pass"


class TemplateSummary(AuditedModel):
    """One row of ListChatappTemplate ``ListTemplate[]``.

    >>> TemplateSummary.model_validate({"TemplateCode": "1", "TemplateName": "hi",
    ...     "Language": "en", "AuditStatus": "pass"}).approved
    True
    """

    template_code: str
    template_name: str
    language: str
    audit_status: str | None = None
    category: str | None = None
    template_type: str | None = None
    reason: str | None = None
    last_update_time: int | None = None
    """Milliseconds since the Unix epoch."""
