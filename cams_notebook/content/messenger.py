"""Messenger and Instagram content: typed text and media; their template and interactive
types, whose shapes the reference leaves unconfirmed, pass through (see :mod:`.registry`)."""

from __future__ import annotations

from .base import LinkContent, TextContent

__all__ = ["InstagramMedia", "InstagramText", "MessengerMedia", "MessengerText"]


class MessengerText(TextContent):
    channel, message_type = "messenger", "text"


class MessengerMedia(LinkContent):
    """Messenger image, video, audio and document: a ``link``."""

    channel, message_type = "messenger", "media"


class InstagramText(TextContent):
    channel, message_type = "instagram", "text"


class InstagramMedia(LinkContent):
    channel, message_type = "instagram", "media"
