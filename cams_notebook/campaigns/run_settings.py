"""What a run reads of its :class:`~.campaign.Campaign`: a Protocol, so that the modules that
run it (:mod:`.campaign_run`, :mod:`.platform_checks`) need not import the public class that
imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .layered_pacing import SenderLimits

__all__ = ["RunSettings"]


class RunSettings(Protocol):
    """The settings of one campaign (see :func:`~.campaign.send_frame` for each)."""

    frame: Any
    qps: int
    journal: Any
    progress: bool
    on_invalid: str
    on_changed: str
    params: Any
    key: str | None
    name: str | None
    concurrency: int | None
    inbound: Any
    constants: dict[str, Any]
    sender_mps: SenderLimits
    health_check: bool
    allowance: bool
    receipts: Any
    follow_for: float
    wall: Callable[[], float]
