"""``frame.cams``: the pandas accessor for validating, previewing and sending a campaign.

Registered the ordinary way, with ``pandas.api.extensions.register_dataframe_accessor``,
when ``cams_notebook`` is imported (which imports pandas). The methods import the campaign
machinery when first called, so importing the package does not load the engine, the
journal or the dry run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .result import CampaignResult

__all__ = ["CamsAccessor"]


@pd.api.extensions.register_dataframe_accessor("cams")
class CamsAccessor:
    """``frame.cams``: validate, preview and send a campaign; summarise a result."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def validate(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`~.dry_run.validate_frame` of this frame."""
        from .dry_run import validate_frame

        return validate_frame(self._frame, **kwargs)

    def preview(self, n: int = 5, **kwargs: Any) -> pd.DataFrame:
        """:func:`~.dry_run.preview_frame` of this frame's first ``n`` rows."""
        from .dry_run import preview_frame

        return preview_frame(self._frame, n, **kwargs)

    def limits(self, **kwargs: Any) -> pd.DataFrame:
        """The platform's plan per sender for sending this frame (``send``'s arguments):
        health, tier, unique users used and left, rows now and deferred; nothing is sent (see
        :meth:`~.campaign.Campaign.limits`)."""
        from .campaign import Campaign

        return Campaign(self._frame, **kwargs).limits()

    def send(self, **kwargs: Any) -> CampaignResult:
        """:func:`~.campaign.send_frame` of this frame."""
        from .campaign import send_frame

        return send_frame(self._frame, **kwargs)

    async def asend(self, **kwargs: Any) -> CampaignResult:
        """:func:`~.campaign.asend_frame` of this frame."""
        from .campaign import asend_frame

        return await asend_frame(self._frame, **kwargs)

    def summary(self) -> pd.DataFrame:
        """Counts of a campaign result by status and code."""
        from .result import summarise

        return summarise(self._frame)

    def with_receipts(self, receipts: Any, **kwargs: Any) -> pd.DataFrame:
        """The campaign result with delivery_status, delivered_at, read_at, failed_code, ...
        added."""
        from ..receipts.events import join_receipts

        return join_receipts(self._frame, receipts, **kwargs)
