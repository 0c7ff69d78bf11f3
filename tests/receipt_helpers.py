"""Synthetic receipts for the receipt tests (and, as before, ``FakeClock`` and ``sandbox_at``)."""

from __future__ import annotations

from typing import Any

from cams_notebook.testing import FakeClock
from tests.helpers import sandbox_at

__all__ = ["FakeClock", "receipt", "sandbox_at"]  # the clock and the sandbox, as before


def receipt(i: int, status: str = "Delivered", **extra: Any) -> dict[str, Any]:
    """A ChatAppStatus event for message number ``i``."""
    event: dict[str, Any] = {
        "MessageId": f"m{i:06d}", "From": "8613800000000", "To": f"86139{i:08d}",
        "Status": status, "Timestamp": 1_691_043_638_000 + i, "MsgFrameType": "template",
        "TaskId": f"t-{i}", "ConversationType": "utility",
    }
    event.update(extra)
    return event
