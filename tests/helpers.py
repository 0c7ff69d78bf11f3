"""Values and builders shared by the tests (import as ``tests.helpers``)."""

from __future__ import annotations

from typing import Any

from cams_notebook.sandbox import Sandbox
from cams_notebook.testing import FakeClock

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


def sandbox_at(clock: FakeClock, **kwargs: Any) -> Sandbox:
    """A sandbox on ``clock`` (receipts due at once unless ``receipt_delay`` says otherwise)
    whose waits (latency, hangs, long polls) advance the clock instead of sleeping; for tests
    that need several sandboxes, or other settings than the ``sandbox`` fixture's."""
    kwargs.setdefault("receipt_delay", 0.0)
    return Sandbox(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kwargs)
