"""``cams-notebook send``: a campaign from a CSV file, for scripts and schedulers.

::

    cams-notebook send recipients.csv --channel-type whatsapp --type template \\
        --from 8613800000000 --template-code 830174529611842305 --language en \\
        --params name,order_id --journal send.db --out results.csv [--qps 250] [--dry-run]
        [--campaign NAME] [--on-changed skip|send] [--endpoint URL | --sandbox]
        [--sender-mps N | --sender-mps NUMBER=N ...] [--no-health-check] [--no-allowance]
        [--limits]

Every request field can be given as a ``--kebab-case`` flag (``--cust-space-id``,
``--fall-back-id``...); columns of the CSV named after request fields supply them per row
(the flags are in :mod:`.send_args`).

Where it sends is never guessed (:mod:`.client_flags`): without the credentials in the
environment the command refuses to start, with one line naming the variables and nothing
read or written, unless ``--sandbox`` asks for the in-process local sandbox.

Anything that stops it is one line on stderr saying what happened and what to do, with an
exit code of its kind (:mod:`.exits`): 0 every row sent (or valid, with ``--dry-run``); 1 a
row failed, is invalid, unknown, not sent or ``changed``; 2 nothing could start (a bad flag,
no credentials, a CSV that cannot be read, a field missing on every row, an ``--out`` that
cannot be written); 3 CAMS refused the credentials; 4 the endpoint cannot be reached; 5 the
journal is in use, bound to another account, damaged or cannot be created; 6 the health check
refused the campaign (nothing sent). The run ends with the counts by status and, when it sent
something, the rate over the sending time; rows ``deferred`` or ``capped`` for a later run
are said with the time they become eligible.

The platform's limits (:mod:`.send_limits`): ``--sender-mps`` paces each WhatsApp sender
number, ``--no-health-check`` and ``--no-allowance`` turn the two checks before the first
request off, and ``--limits`` prints the plan per sender and sends nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .client_flags import SANDBOX_FLAG_HINT, add_client_arguments, endpoint_of, make_client
from .exits import ExitCode
from .failures import CommandError, describe, file_path_problem
from .send_args import add_arguments, constants_from_args
from .send_limits import gate_refusal, limits_exit, limits_text, sender_limits
from .send_report import (
    invalid_rows_text,
    later_lines,
    missing_everywhere,
    summary_line,
    this_run,
)
from .wording import flag_wording, translated_stderr

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from ..campaigns.frames import Campaign, CampaignResult
    from ..client import Client

__all__ = ["SANDBOX_FLAG_HINT", "add_arguments", "add_client_arguments", "client_from_args",
           "run"]

_BAD = ("failed", "invalid", "unknown", "not_sent", "changed", "deferred", "capped")
"""Statuses that make the exit code 1."""


def client_from_args(args: argparse.Namespace, command: str) -> Client | None:
    """The client the flags and the environment ask for, or None once one line on stderr has
    said why there is none (for commands that print their own errors)."""
    try:
        return make_client(args)
    except CommandError as exc:
        print(f"cams-notebook {command}: {exc.line}", file=sys.stderr)
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


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse, before anything is sent, the paths that would fail only afterwards."""
    if args.inbound is not None and not os.path.exists(args.inbound):
        raise CommandError(ExitCode.USAGE, f"--inbound {args.inbound!r}: no such receipt store "
                           "(fill it with `cams-notebook receipts --pull --message-type "
                           "ChatAppInbound --store ...`)")
    if args.journal is not None and (why := file_path_problem(args.journal)):
        raise CommandError(ExitCode.JOURNAL, f"--journal {args.journal!r} cannot be used: "
                           f"{why}; give a file in a folder that exists and is writable; "
                           "nothing was sent")
    if args.out is not None and (why := file_path_problem(args.out)):
        raise CommandError(ExitCode.USAGE, f"--out {args.out!r} cannot be written: {why}; give "
                           "a file in a folder that exists and is writable; nothing was sent")


def _read(args: argparse.Namespace) -> pd.DataFrame | Iterable[pd.DataFrame]:
    import pandas as pd

    frame: pd.DataFrame | Iterable[pd.DataFrame]
    try:
        if args.chunksize:
            frame = pd.read_csv(args.file, chunksize=args.chunksize, dtype=str,
                                keep_default_na=True)
        else:
            frame = pd.read_csv(args.file, dtype=str, keep_default_na=True)
    except (OSError, ValueError) as exc:
        raise CommandError(ExitCode.USAGE, f"cannot read {args.file!r}: {exc}") from exc
    return frame


def _header(frame: pd.DataFrame | Iterable[pd.DataFrame], path: str) -> list[str]:
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return [str(c) for c in frame.columns]
    return [str(c) for c in pd.read_csv(path, nrows=0, dtype=str).columns]


def _refuse_missing(problems: pd.DataFrame, frame: Any, path: str) -> None:
    """A field no row has is a usage error (exit 2), said once, not once per row."""
    import pandas as pd

    total = len(frame) if isinstance(frame, pd.DataFrame) else None
    lines = missing_everywhere(problems, total, _header(frame, path))
    if lines:
        raise CommandError(ExitCode.USAGE, "; ".join(lines) + "; nothing was sent")


def _dry_run(args: argparse.Namespace, client: Client, frame: Any, constants: dict[str, Any],
             inbound: Any) -> int:
    from ..campaigns.frames import validate_frame

    problems = validate_frame(frame, client=client, params=_params(args.params), key=args.key,
                              inbound=inbound, **constants)
    # read in chunks, the rows are spent: only the header tells what is absent
    _refuse_missing(problems, None if args.chunksize else frame, args.file)
    problems["message"] = problems["message"].map(flag_wording)
    errors = problems[problems["severity"] == "error"]
    print(problems.to_string(index=False) if len(problems) else "no problems found")
    print(f"{errors['index'].nunique()} invalid row(s), {len(problems) - len(errors)} warning(s)")
    return ExitCode.FAILED if len(errors) else ExitCode.OK


def _campaign(args: argparse.Namespace, client: Client, frame: Any, constants: dict[str, Any],
              inbound: Any) -> Campaign:
    from ..campaigns.frames import Campaign
    from ..campaigns.layered_pacing import DEFAULT_SENDER_MPS

    return Campaign(frame, client=client, qps=args.qps, journal=args.journal,
                    progress=not args.no_progress, on_invalid=args.on_invalid,
                    params=_params(args.params), key=args.key, campaign=args.campaign,
                    on_changed=args.on_changed, inbound=inbound,
                    sender_mps=sender_limits(args.sender_mps, DEFAULT_SENDER_MPS),
                    health_check=not args.no_health_check, allowance=not args.no_allowance,
                    **constants)


def _limits(args: argparse.Namespace, client: Client, frame: Any, constants: dict[str, Any],
            inbound: Any) -> int:
    """``--limits``: the plan per sender, refusals and warnings; nothing sent."""
    plan = _campaign(args, client, frame, constants, inbound).limits()
    print(limits_text(plan))
    return limits_exit(plan)


def _send(args: argparse.Namespace, client: Client, frame: Any, constants: dict[str, Any],
          inbound: Any) -> tuple[CampaignResult, Campaign]:
    from ..campaigns.frames import InvalidFrameError
    from ..campaigns.health_gate import HealthGateError

    campaign = _campaign(args, client, frame, constants, inbound)
    try:
        with translated_stderr():
            return campaign.run(), campaign
    except HealthGateError as exc:  # a ValueError, but not a usage error: exit 6
        raise gate_refusal(exc) from exc
    except InvalidFrameError as exc:
        if not exc.sent:
            _refuse_missing(exc.problems, frame if not args.chunksize else None, args.file)
        problems = exc.problems.assign(message=exc.problems["message"].map(flag_wording))
        raise CommandError(ExitCode.FAILED, invalid_rows_text(problems, exc.sent)) from exc
    except Exception as exc:  # noqa: BLE001 - said in one line by its kind (failures.describe)
        counts = campaign.counts
        sent = max(counts.sent - counts.skipped, 0) if counts is not None else 0
        raise describe(exc, endpoint=endpoint_of(client), journal=args.journal,
                       sent=sent) from exc


def _outcome(result: CampaignResult, campaign: Campaign, client: Client, started: float,
             journal: str | None) -> ExitCode:
    """The exit code of a run that returned a result; a CommandError when it stopped on an
    error of its own kind (refused credentials, an endpoint that never answered)."""
    from ..errors import AuthError, NotSubscribedError

    engine, counts = campaign.engine, campaign.counts
    reason = engine.stop_reason if engine is not None else None
    fresh = len(this_run(result, started))
    if isinstance(reason, (AuthError, NotSubscribedError)):
        raise describe(reason, sent=fresh)
    failed = result[result["status"] == "failed"]
    unreachable = failed["error"].fillna("").str.startswith("RequestNotSentError")
    replayed = counts.skipped + counts.changed if counts is not None else 0
    if len(failed) and unreachable.all() and not fresh and not replayed:
        # every row of this run failed without reaching the service, none came from the journal
        then = (f"run again with --journal {journal!r} once CAMS can be reached: it sends "
                "these rows then (they never took effect)" if journal else
                "run again once CAMS can be reached")
        raise CommandError(ExitCode.UNREACHABLE, f"cannot reach CAMS at {endpoint_of(client)}: "
                           f"{len(failed)} row(s) failed without reaching it "
                           f"({failed['error'].iloc[0]}): check --endpoint (or "
                           f"CAMS_NOTEBOOK_ENDPOINT), the network and any proxy; nothing was "
                           f"sent, {then}")
    return ExitCode.FAILED if result["status"].isin(_BAD).any() else ExitCode.OK


def _write_out(result: CampaignResult, path: str) -> None:
    out = result.assign(error=result["error"].map(
        lambda text: flag_wording(text) if isinstance(text, str) else text))
    try:
        out.to_csv(path)
    except OSError as exc:
        raise CommandError(ExitCode.FAILED, f"cannot write --out {path!r}: {exc.strerror}; the "
                           "rows above were sent as reported (the journal, if any, keeps "
                           "them)") from exc


def run(args: argparse.Namespace) -> int:
    """Send (or with ``--dry-run`` check) the CSV; return the exit code (:mod:`.exits`)."""
    from ..campaigns.layered_pacing import DEFAULT_SENDER_MPS

    constants = constants_from_args(args)
    sender_limits(args.sender_mps, DEFAULT_SENDER_MPS)  # a bad value: one line, before all else
    if args.dry_run and args.limits:
        raise CommandError(ExitCode.USAGE, "--dry-run and --limits: give one of them (each "
                           "sends nothing: the dry run checks every row, --limits plans them "
                           "per sender)")
    client = make_client(args)  # first: without one, nothing is read or written
    with contextlib.ExitStack() as held:  # the client, the inbound store, a chunked reader
        held.callback(client.close)
        _check_paths(args)
        inbound = None
        if args.inbound is not None:
            from ..receipts.store import ReceiptStore

            inbound = held.enter_context(contextlib.closing(ReceiptStore(args.inbound)))
        frame = _read(args)
        close = getattr(frame, "close", None)  # a chunked reader holds the file open
        if args.chunksize and callable(close):
            held.callback(close)
        if args.dry_run or args.limits:
            look = _dry_run if args.dry_run else _limits
            try:
                return look(args, client, frame, constants, inbound)
            except CommandError:
                raise
            except Exception as exc:  # noqa: BLE001 - said in one line by its kind
                raise describe(exc, endpoint=endpoint_of(client)) from exc
        started = time.time()
        result, campaign = _send(args, client, frame, constants, inbound)
    if args.out:
        _write_out(result, args.out)
    _report(result, campaign, started, args.journal)
    return _outcome(result, campaign, client, started, args.journal)


def _report(result: CampaignResult, campaign: Campaign, started: float,
            journal: str | None) -> None:
    """The counts by status and code, the summary line, then what is left for later and why
    the run stopped early, if it did."""
    from ..errors import PlatformStopError

    print(result.summary().to_string(index=False))
    counts, engine = campaign.counts, campaign.engine
    print(summary_line(result, started, skipped=counts.skipped if counts else 0,
                       changed=counts.changed if counts else 0))
    reason = engine.stop_reason if engine is not None else None
    for line in later_lines(result, journal=journal, refused=counts.refused if counts else 0,
                            stop_reason=reason if isinstance(reason, PlatformStopError)
                            else None):
        print(line)
