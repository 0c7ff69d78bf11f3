"""Values and builders shared by the tests (import as ``helpers``; tests/ is on sys.path)."""

from __future__ import annotations

TEMPLATE_CODE = "830174529611842305"  # order_shipped, WhatsApp, en/es/pt_BR: name, order_id
SENDER = "8613800000000"
RECIPIENT = "8613900000000"


def template_fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = dict(
        channel_type="whatsapp", type="template", from_=SENDER, to=RECIPIENT,
        template_code=TEMPLATE_CODE, language="en",
        template_params={"name": "Ada", "order_id": "A-1"},
    )
    fields.update(overrides)
    return fields
