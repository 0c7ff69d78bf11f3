"""``cams-notebook send``: a campaign from a CSV file, for scripts and schedulers.

::

    cams-notebook send recipients.csv --channel-type whatsapp --type template \\
        --from 8613800000000 --template-code 830174529611842305 --language en \\
        --params name,order_id --journal send.db --out results.csv [--qps 250] [--dry-run]
        [--campaign NAME] [--on-changed skip|send] [--endpoint URL | --sandbox]

Every request field can be given as a ``--kebab-case`` constant (``--cust-space-id``,
``--fall-back-id``...); columns of the CSV named after request fields supply them per row.

Where it sends is never guessed. The credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID``
and ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` (``ALIBABA_CLOUD_SECURITY_TOKEN`` too for STS), the
endpoint from ``--endpoint`` or ``CAMS_NOTEBOOK_ENDPOINT``. Without the credentials the
command refuses to start (exit 2, one line on stderr naming the variables, nothing read or
written), so a scheduled job with a missing variable fails instead of "sending" to a fake
service. ``--sandbox`` asks for the in-process local sandbox by name (nothing leaves this
machine; it says so on stdout); it has no endpoint, so ``--sandbox --endpoint`` is a usage
error. A loopback sandbox server (``cams-notebook sandbox``) is reached like CAMS: its keys
in the environment and ``--endpoint http://127.0.0.1:PORT``.

The exit status is 0 when every row was sent (or, with ``--dry-run``, is valid), 1 when any
row failed, is invalid, has an unknown outcome, was not sent, or is ``changed`` (sent before
in this campaign with another message, and not sent again), and 2 when nothing could start: a
bad flag, no credentials without ``--sandbox``, ``--sandbox`` with ``--endpoint``, a CSV that
cannot be read, a journal in use by another run or bound to another account.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from .._config import DEFAULT_QPS
from ..models import WIRE_NAMES

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from ..client import Client

__all__ = ["SANDBOX_FLAG_HINT", "add_arguments", "add_client_arguments", "client_from_args", "run"]

SANDBOX_FLAG_HINT = ("pass --sandbox to use the in-process local sandbox "
                     "(nothing leaves this machine)")
"""How a command's missing-credentials line says to get the sandbox on purpose."""


def _flag(field: str) -> str:
    return "--" + field.rstrip("_").replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV file, one recipient per row")
    parser.add_argument("--params", help="comma-separated columns holding template variables "
                        "(variable name = column name), or var=column pairs")
    parser.add_argument("--key", help="column that identifies a row when one campaign sends "
                        "several messages to the same person (default: the recipient: channel, "
                        "From, To)")
    parser.add_argument("--journal",
                        help="SQLite journal: re-running with it never sends a row twice")
    parser.add_argument("--campaign", metavar="NAME",
                        help="the campaign's name in the journal (default: one derived from "
                        "the constants and which columns feed which fields)")
    parser.add_argument("--on-changed", choices=("skip", "send"), default="skip",
                        help="a recipient already sent in this campaign with a different message: "
                        "skip and report it as 'changed' (default), or send the new version")
    parser.add_argument("--out", help="write the result (one row per input row) to this CSV")
    parser.add_argument("--inbound", metavar="STORE",
                        help="receipt store (SQLite) holding inbound messages, as `cams-notebook "
                             "receipts --pull --message-type ChatAppInbound --store STORE` "
                             "fills it: tells whose WhatsApp 24-hour window is open")
    parser.add_argument("--qps", type=int, default=DEFAULT_QPS,
                        help="requests per second (default 250)")
    add_client_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="validate only; send nothing")
    parser.add_argument("--on-invalid", choices=("raise", "skip"), default="raise",
                        help="what to do with invalid rows (default: refuse to start)")
    parser.add_argument("--chunksize", type=int, default=None,
                        help="read the CSV in chunks of this many rows (bounded memory)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    fields = parser.add_argument_group("request fields (constants for every row)")
    for field, wire in WIRE_NAMES.items():
        fields.add_argument(_flag(field), dest=f"const_{field}", metavar=wire.upper(),
                            help=f"{wire} for every row")


def add_client_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--endpoint`` and ``--sandbox``: where a command's client talks (see the module doc)."""
    parser.add_argument("--endpoint", help="CAMS endpoint (host or URL; http only for loopback); "
                        "used with the credentials of the environment")
    parser.add_argument("--sandbox", action="store_true",
                        help="use the in-process local sandbox; nothing leaves this machine")


def client_from_args(args: argparse.Namespace, command: str) -> Client | None:
    """The client the flags and the environment ask for, or None once one line on stderr has
    said why there is none (the command then exits 2 having done nothing else)."""
    from ..client import Client
    from ..errors import MissingCredentialsError

    prefix = f"cams-notebook {command}:"
    if args.sandbox and args.endpoint:
        print(f"{prefix} --sandbox and --endpoint conflict: the in-process sandbox has no "
              "endpoint; to use a loopback sandbox server, set its credentials and give "
              "--endpoint without --sandbox", file=sys.stderr)
        return None
    if args.sandbox:
        return Client.sandbox()
    try:
        return Client.from_env(**({"endpoint": args.endpoint} if args.endpoint else {}))
    except MissingCredentialsError as exc:
        print(f"{prefix} {MissingCredentialsError(missing=exc.missing, hint=SANDBOX_FLAG_HINT)}",
              file=sys.stderr)
    except ValueError as exc:  # an endpoint that is not a host or an allowed URL
        print(f"{prefix} {exc}", file=sys.stderr)
    return None


def _params(text: str | None) -> list[str] | dict[str, str] | None:
    if not text:
        return None
    items = [p.strip() for p in text.split(",") if p.strip()]
    if any("=" in p for p in items):
        # "name=column" maps a template variable to a column; a bare "name" reads column "name"
        pairs = (p.partition("=") for p in items)
        return {name: column if eq else name for name, eq, column in pairs}
    return items


def _inbound_store(path: str | None) -> Any:
    """The ``--inbound`` store, None without one, False (said on stderr) when it is missing."""
    if path is None:
        return None
    if not os.path.exists(path):
        print(f"cams-notebook send: --inbound {path!r}: no such receipt store (fill it with "
              "`cams-notebook receipts --pull --message-type ChatAppInbound --store ...`)",
              file=sys.stderr)
        return False
    from ..receipts.store import ReceiptStore

    return ReceiptStore(path)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..campaigns.frames import InvalidFrameError, send_frame, validate_frame
    from ..campaigns.journal import JournalError

    constants = {k[len("const_"):]: v for k, v in vars(args).items()
                 if k.startswith("const_") and v is not None}
    client = client_from_args(args, "send")  # first: without one, nothing is read or written
    if client is None:
        return 2
    params = _params(args.params)
    inbound = _inbound_store(args.inbound)
    if inbound is False:
        client.close()
        return 2
    try:
        try:
            frame: pd.DataFrame | Iterable[pd.DataFrame] = (
                pd.read_csv(args.file, chunksize=args.chunksize, dtype=str, keep_default_na=True)
                if args.chunksize else pd.read_csv(args.file, dtype=str, keep_default_na=True))
        except (OSError, ValueError) as exc:
            print(f"cams-notebook send: cannot read {args.file!r}: {exc}", file=sys.stderr)
            return 2
        if args.dry_run:
            problems = validate_frame(frame, client=client, params=params, key=args.key,
                                      inbound=inbound, **constants)
            errors = problems[problems["severity"] == "error"]
            print(problems.to_string(index=False) if len(problems) else "no problems found")
            print(f"{errors['index'].nunique()} invalid row(s), "
                  f"{len(problems) - len(errors)} warning(s)")
            return 1 if len(errors) else 0
        result = send_frame(frame, client=client, qps=args.qps, journal=args.journal,
                            progress=not args.no_progress, on_invalid=args.on_invalid,
                            params=params, key=args.key, campaign=args.campaign,
                            on_changed=args.on_changed, inbound=inbound, **constants)
    except InvalidFrameError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except JournalError as exc:  # in use, another account, or unreadable: nothing was sent
        print(f"cams-notebook send: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        print(f"cams-notebook send: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if args.out:
        result.to_csv(args.out)
    print(result.summary().to_string(index=False))
    bad = result["status"].isin(["failed", "invalid", "unknown", "not_sent", "changed"]).sum()
    return 1 if bad else 0
