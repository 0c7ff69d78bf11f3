"""Builders shared by the receipt tests: a fake clock, a sandbox on it, synthetic receipts."""

from __future__ import annotations

from typing import Any

from cams_notebook.sandbox import Sandbox


class FakeClock:
    """Epoch seconds that move only when told (or when the sandbox 'sleeps')."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def sandbox_at(clock: FakeClock, **kwargs: Any) -> Sandbox:
    """A sandbox on ``clock`` whose waits (latency, long polls) advance the clock instead."""
    kwargs.setdefault("receipt_delay", 0.0)
    sb = Sandbox(clock=clock, **kwargs)
    sb.transport._sleep = clock.advance
    return sb


def receipt(i: int, status: str = "Delivered", **extra: Any) -> dict[str, Any]:
    """A ChatAppStatus event for message number ``i``."""
    event: dict[str, Any] = {
        "MessageId": f"m{i:06d}", "From": "8613800000000", "To": f"86139{i:08d}",
        "Status": status, "Timestamp": 1_691_043_638_000 + i, "MsgFrameType": "template",
        "TaskId": f"t-{i}", "ConversationType": "utility",
    }
    event.update(extra)
    return event
