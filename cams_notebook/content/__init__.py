"""Typed ``Content`` models for free-form (``Type=message``) sends, per channel and MessageType.

``Content`` travels as a JSON string whose keys are camelCase (``link``, ``fileName``,
``messageId``), not the PascalCase of the request parameters. Each model here knows its
channel and MessageType, validates what the reference (``cams_api.md`` section 2) requires
and forbids, and serialises itself compactly with non-ASCII kept raw, as the official SDK
does for its JSON parameters.

Where the reference leaves a shape unconfirmed (WhatsApp ``interactive``, ``contacts``,
``typing_indicator``, ``pin``, ``carousel``; the Messenger/Instagram template types;
Telegram and LINE pass-through bodies) the model checks only the keys the reference says
are required and passes everything else through untouched, so that a user is never
blocked by our guess about a shape the service accepts.

Keys left empty (``""`` or ``null``) are dropped before validation, on every model: the
service ignores them, and the reference's own example Content for a WhatsApp text is
``{"text": "hello whatsapp", "link": "", "caption": "", "fileName": ""}``. A required key
left empty is therefore reported as missing. Only the top level is looked at; nested
objects (an interactive ``header``...) pass as given. What goes on the wire is decided in
:meth:`~cams_notebook.models.Message.to_query`: a model (or a dict) is sent as this package
serialises it, without the empty keys; JSON text is sent exactly as it was given, as the SDK
does.

Limits enforced (reference section 2; the WhatsApp and Viber platform figures it quotes):
WhatsApp text <= 4096 characters, caption <= 1024, interactive body <= 1024, header/footer
<= 60, at most 3 reply buttons with titles <= 20 and ids <= 256, list button text <= 20,
at most 10 sections and 10 rows in all, section and row titles <= 24, row descriptions <= 72;
Viber text <= 1000, button caption <= 30, file name <= 25; media links must be http(s); no
``{{digits}}`` placeholders in a body (the service rejects them with
``InvalidParameter.MessageInvalid``). The size of the whole request is bounded in
:mod:`~cams_notebook.models` (``MAX_QUERY_LENGTH``).

The parts: :mod:`.base` (the base models, shared checks, the wire JSON), one module per channel
(:mod:`.whatsapp`, :mod:`.viber`, :mod:`.messenger` for Messenger and Instagram), and
:mod:`.registry` (which model serves which channel and MessageType). Every name is importable
from ``cams_notebook.content`` as before.
"""

from __future__ import annotations

from .base import CAPTION_LIMIT, ContentModel, PassThroughContent, dumps
from .messenger import InstagramMedia, InstagramText, MessengerMedia, MessengerText
from .registry import (
    CONTENT_MODELS,
    MESSAGE_TYPES,
    Content,
    ContentType,
    check_content,
    content_model_for,
)
from .viber import (
    VIBER_FILE_NAME_LIMIT,
    VIBER_TEXT_LIMIT,
    ViberDocument,
    ViberImage,
    ViberText,
    ViberTextButton,
    ViberTextImage,
    ViberTextImageButton,
    ViberTextVideo,
    ViberTextVideoButton,
    ViberVideo,
)
from .whatsapp import (
    WHATSAPP_TEXT_LIMIT,
    Contact,
    ContactName,
    WhatsAppAudio,
    WhatsAppContacts,
    WhatsAppDocument,
    WhatsAppImage,
    WhatsAppInteractive,
    WhatsAppLocation,
    WhatsAppReaction,
    WhatsAppSticker,
    WhatsAppText,
    WhatsAppVideo,
)

__all__ = [
    "CAPTION_LIMIT",
    "CONTENT_MODELS",
    "Contact",
    "ContactName",
    "Content",
    "ContentModel",
    "ContentType",
    "InstagramMedia",
    "InstagramText",
    "MESSAGE_TYPES",
    "MessengerMedia",
    "MessengerText",
    "PassThroughContent",
    "VIBER_FILE_NAME_LIMIT",
    "VIBER_TEXT_LIMIT",
    "ViberDocument",
    "ViberImage",
    "ViberText",
    "ViberTextButton",
    "ViberTextImage",
    "ViberTextImageButton",
    "ViberTextVideo",
    "ViberTextVideoButton",
    "ViberVideo",
    "WHATSAPP_TEXT_LIMIT",
    "WhatsAppAudio",
    "WhatsAppContacts",
    "WhatsAppDocument",
    "WhatsAppImage",
    "WhatsAppInteractive",
    "WhatsAppLocation",
    "WhatsAppReaction",
    "WhatsAppSticker",
    "WhatsAppText",
    "WhatsAppVideo",
    "check_content",
    "content_model_for",
    "dumps",
]
