"""The flags of ``cams-notebook send``, in the groups ``--help`` shows them in.

What to send, where it goes, pacing and the journal, output, and then every other request
field as a per-field flag. The per-field flags are made from the request model
(:data:`~cams_notebook.models.WIRE_NAMES`), so a field the model gains is a flag at once; a
field whose values are a fixed set takes exactly that set (``--channel-type {whatsapp,...}``).
"""

from __future__ import annotations

import argparse
import textwrap
import typing
from typing import Any

from .._config import DEFAULT_QPS
from ..campaigns.layered_pacing import DEFAULT_SENDER_MPS
from ..models import WIRE_NAMES, Message
from .client_flags import add_client_arguments
from .wording import FIELD_METAVARS, flag_for

__all__ = ["MESSAGE_FIELDS", "USAGE", "add_arguments", "constants_from_args"]

MESSAGE_FIELDS: dict[str, str] = {
    # the fields most campaigns set, shown under "what to send", with their help
    "channel_type": "channel of every row",
    "type": "a template message, or a free-form message (inside the 24-hour window)",
    "from_": "sender number (a From column gives it per row)",
    "template_code": "template to send (or --template-name)",
    "template_name": "template to send, by name",
    "language": "template language, e.g. en or zh_CN",
    "template_params": 'template variables as JSON, e.g. \'{"name": "Ada"}\' (or --params)',
    "message_type": "free-form message type, e.g. text, image",
    "content": 'free-form content as JSON, e.g. \'{"text": "Hello"}\'',
}
"""Request fields under "what to send"; every other field is a per-field override."""


def _choices(field: str) -> list[str] | None:
    """The values a field takes, when the model names them (``Literal``), else None."""
    annotation = Message.model_fields[field].annotation
    for part in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(part) is typing.Literal:
            return [str(v) for v in typing.get_args(part)]
    return None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _field_flag(group: argparse._ArgumentGroup, field: str, help_text: str) -> None:
    choices = _choices(field)
    group.add_argument(flag_for(field), dest=f"const_{field}", choices=choices,
                       metavar=None if choices else FIELD_METAVARS.get(field, "VALUE"),
                       help=help_text)


def _wrap(text: str) -> str:
    """A group's description, wrapped as argparse wraps help (the parser keeps line breaks,
    for the exit-code table of its epilog)."""
    return textwrap.fill(text, 76)


USAGE = ("%(prog)s CSV --channel-type CHANNEL --type {template,message} --from NUMBER\n"
         "       (--template-code CODE --language LANG [--params COLUMNS] | --message-type "
         "TYPE --content JSON)\n"
         "       [--endpoint URL | --sandbox] [--journal FILE] [--out FILE] [--dry-run] "
         "[options]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``send`` flags to ``parser``, grouped as ``--help`` shows them."""
    parser.usage = USAGE
    parser.add_argument("file", metavar="CSV", help="recipients, one per row; columns named "
                        "after request fields (To, From, TemplateCode...) give them per row")
    what = parser.add_argument_group("what to send")
    for field, help_text in MESSAGE_FIELDS.items():
        _field_flag(what, field, help_text)
    what.add_argument("--params", metavar="COLUMNS",
                      help="comma-separated columns holding template variables (variable name = "
                      "column name), or var=column pairs")
    what.add_argument("--inbound", metavar="STORE",
                      help="receipt store (SQLite) holding inbound messages, as `cams-notebook "
                           "receipts --pull --message-type ChatAppInbound --store STORE` fills "
                           "it: tells whose WhatsApp 24-hour window is open")
    what.add_argument("--on-invalid", choices=("raise", "skip"), default="raise",
                      help="invalid rows: refuse to start (raise, the default) or send the "
                      "valid rows only (skip)")
    what.add_argument("--dry-run", action="store_true",
                      help="check every row (and its template) and send nothing")

    where = parser.add_argument_group("where it goes", _wrap(
        "the credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID and "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET (ALIBABA_CLOUD_SECURITY_TOKEN too for STS); without "
        "them, nothing starts unless --sandbox"))
    add_client_arguments(where)

    pacing = parser.add_argument_group("pacing and journal")
    pacing.add_argument("--qps", type=_positive, default=DEFAULT_QPS, metavar="N",
                        help=f"requests per second (default {DEFAULT_QPS})")
    pacing.add_argument("--journal", metavar="FILE",
                        help="SQLite journal: re-running with it never sends a row twice")
    pacing.add_argument("--campaign", metavar="NAME",
                        help="the campaign's name in the journal (default: one derived from "
                        "the constants and which columns feed which fields)")
    pacing.add_argument("--key", metavar="COLUMN",
                        help="column that identifies a row when one campaign sends several "
                        "messages to the same person (default: the recipient: channel, From, "
                        "To)")
    pacing.add_argument("--on-changed", choices=("skip", "send"), default="skip",
                        help="a recipient already sent in this campaign with a different "
                        "message: skip and report it as 'changed' (default), or send the new "
                        "version")
    pacing.add_argument("--chunksize", type=_positive, default=None, metavar="ROWS",
                        help="read the CSV in chunks of this many rows (bounded memory)")

    platform = parser.add_argument_group("platform limits", _wrap(
        "WhatsApp's own limits, kept before a request is made (docs/cli.md, 'Platform "
        "limits'); the health check's refusals exit 6"))
    platform.add_argument("--sender-mps", action="append", metavar="N|NUMBER=N",
                          help=f"messages per second per WhatsApp sender number (default "
                          f"{DEFAULT_SENDER_MPS}); 'none' for no limit of its own; repeat "
                          "NUMBER=N (or NUMBER=none) to set it per sender, e.g. "
                          "8613800000904=20 for a coexistence number")
    platform.add_argument("--no-health-check", action="store_true",
                          help="do not check the senders' status, quality and tier and the "
                          "templates' approval before the first request")
    platform.add_argument("--no-allowance", action="store_true",
                          help="send every row now, even beyond a sender's unique users per "
                          "24 hours (its messaging tier); by default those rows are 'deferred' "
                          "to a later run")
    platform.add_argument("--limits", action="store_true",
                          help="print the plan per sender (health, tier, unique users used "
                          "and left, rows now and deferred, until when) and send nothing; "
                          "exit 6 when the health check would refuse the campaign")

    output = parser.add_argument_group("output")
    output.add_argument("--out", metavar="FILE",
                        help="write the result (one row per input row) to this CSV")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")

    overrides = parser.add_argument_group("per-field overrides", _wrap(
        "any other request field, the same for every row (a CSV column named after the field "
        "gives it per row instead)"))
    for field, wire in WIRE_NAMES.items():
        if field not in MESSAGE_FIELDS:
            _field_flag(overrides, field, f"{wire} for every row")


def constants_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields given as flags, by field name."""
    return {k[len("const_"):]: v for k, v in vars(args).items()
            if k.startswith("const_") and v is not None}
