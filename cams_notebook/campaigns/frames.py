"""Campaigns from DataFrames, in one import: the dry run, the runner, the result, the accessor.

``from cams_notebook.campaigns.frames import send_frame, validate_frame, CampaignResult``
gathers the public names of :mod:`.dry_run` (``validate_frame``, ``preview_frame``),
:mod:`.campaign` (``Campaign``, ``send_frame``, ``asend_frame``), :mod:`.result`
(``CampaignResult``) and registers the ``frame.cams`` accessor (:mod:`.accessor`).
"""

from __future__ import annotations

from .accessor import CamsAccessor
from .campaign import Campaign, asend_frame, send_frame, session_journal
from .dry_run import PROBLEM_COLUMNS, InvalidFrameError, preview_frame, validate_frame
from .health_gate import HealthGateError
from .result import RESULT_COLUMNS, STATUSES, CampaignResult, summarise

__all__ = ["PROBLEM_COLUMNS", "RESULT_COLUMNS", "STATUSES", "Campaign", "CampaignResult",
           "CamsAccessor", "HealthGateError", "InvalidFrameError", "asend_frame", "preview_frame",
           "send_frame",
           "session_journal", "summarise", "validate_frame"]
