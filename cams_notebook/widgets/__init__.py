"""Notebook widgets: the message :class:`Composer` (a form driven by the ``Message`` model, with
a live chat-bubble preview), the :class:`CampaignPanel` (a DataFrame's columns mapped to a
message, dry run, preview, Send/Stop with live counts) and the HTML they render.

Importing this package loads ipywidgets; ``import cams_notebook`` does not.
"""

from __future__ import annotations

from .campaign import CampaignPanel
from .composer import Composer

__all__ = ["CampaignPanel", "Composer"]
