"""``cams-notebook send``: a campaign from a CSV file, for scripts and schedulers.

::

    cams-notebook send recipients.csv --channel-type whatsapp --type template \\
        --from 8613800000000 --template-code 830174529611842305 --language en \\
        --params name,order_id --journal send.db --out results.csv [--qps 250] [--dry-run]

Every request field can be given as a ``--kebab-case`` constant (``--cust-space-id``,
``--fall-back-id``...); columns of the CSV named after request fields supply them per row.
Credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``ALIBABA_CLOUD_ACCESS_KEY_SECRET``;
without them the in-process sandbox answers, and the command says so. The exit status is
0 when every row was sent (or, with ``--dry-run``, is valid), 1 when any row failed, is
invalid or has an unknown outcome, and 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._config import DEFAULT_QPS
from .models import WIRE_NAMES

__all__ = ["add_arguments", "run"]


def _flag(field: str) -> str:
    return "--" + field.rstrip("_").replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV file, one recipient per row")
    parser.add_argument("--params", help="comma-separated columns holding template variables "
                        "(variable name = column name), or var=column pairs")
    parser.add_argument("--key", help="column that identifies a row (default: row number + content)")
    parser.add_argument("--journal", help="SQLite journal: re-running with it never sends a row twice")
    parser.add_argument("--out", help="write the result (one row per input row) to this CSV")
    parser.add_argument("--qps", type=int, default=DEFAULT_QPS, help="requests per second (default 250)")
    parser.add_argument("--endpoint", help="CAMS endpoint (host or URL; http only for loopback)")
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


def _params(text: str | None) -> Any:
    if not text:
        return None
    items = [p.strip() for p in text.split(",") if p.strip()]
    if any("=" in p for p in items):
        return dict(p.split("=", 1) if "=" in p else (p, p) for p in items)
    return items


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .client import Client
    from .frames import InvalidFrameError, send_frame, validate_frame

    constants = {k[len("const_"):]: v for k, v in vars(args).items()
                 if k.startswith("const_") and v is not None}
    try:
        read = dict(dtype=str, keep_default_na=True)
        frame: Any = (pd.read_csv(args.file, chunksize=args.chunksize, **read) if args.chunksize
                      else pd.read_csv(args.file, **read))
    except (OSError, ValueError) as exc:
        print(f"cams-notebook send: cannot read {args.file!r}: {exc}", file=sys.stderr)
        return 2
    overrides = {"endpoint": args.endpoint} if args.endpoint else {}
    client = Client.from_env(**overrides)
    params = _params(args.params)
    try:
        if args.dry_run:
            problems = validate_frame(frame, client=client, params=params, key=args.key, **constants)
            errors = problems[problems["severity"] == "error"]
            print(problems.to_string(index=False) if len(problems) else "no problems found")
            print(f"{errors['index'].nunique()} invalid row(s), {len(problems) - len(errors)} warning(s)")
            return 1 if len(errors) else 0
        result = send_frame(frame, client=client, qps=args.qps, journal=args.journal,
                            progress=not args.no_progress, on_invalid=args.on_invalid,
                            params=params, key=args.key, **constants)
    except InvalidFrameError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (TypeError, ValueError) as exc:
        print(f"cams-notebook send: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if args.out:
        result.to_csv(args.out)
    print(result.summary().to_string(index=False))
    bad = result["status"].isin(["failed", "invalid", "unknown", "not_sent"]).sum()
    return 1 if bad else 0
