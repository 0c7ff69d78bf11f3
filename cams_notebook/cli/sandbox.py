"""``cams-notebook sandbox`` (and ``python -m cams_notebook.sandbox``): run the local fake CAMS.

The command lives with the others under :mod:`cams_notebook.cli`; ``python -m
cams_notebook.sandbox`` calls :func:`main` here, so both entry points take the same flags::

    python -m cams_notebook.sandbox --port 8787 --latency-ms 80,20 --seed 1
    python -m cams_notebook.sandbox --profile realistic --tier TIER_250

Meta's limits after acceptance (all off unless asked for; ``--profile realistic`` switches
them all on, and a flag given wins over the profile): ``--sender-mps N`` (0 = off),
``--pair-rate`` / ``--no-pair-rate``, ``--pair-burst N``, ``--enforce-tiers`` /
``--no-enforce-tiers``, ``--quality-drops`` / ``--no-quality-drops``
(:mod:`cams_notebook.sandbox.meta_limits`).

A bad flag exits 2 (argparse's line); a core configuration it refuses (an unknown fault
profile) is one line, exit 2; an address it cannot listen on is one line saying why and what
to do (:func:`listen_advice`), exit 1. Ctrl-C or SIGTERM stops it, exit 0 (:mod:`.exits`).
"""

from __future__ import annotations

import argparse
import errno
import gc
import math
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from cams_notebook._config import DEFAULT_QPS

from ..sandbox._defaults import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_FAULTS,
    DEFAULT_HOST,
    DEFAULT_LATENCY,
    DEFAULT_PORT,
    DEFAULT_SEED,
)
from . import arg_types
from .exits import ExitCode, epilog

if TYPE_CHECKING:
    from ..sandbox.server import SandboxCoreLike, SandboxServer

__all__ = ["add_arguments", "build_core", "listen_advice", "main", "parse_latency_ms", "run"]


def parse_latency_ms(text: str) -> tuple[float, float]:
    """Parse ``MEAN[,JITTER]`` in milliseconds into (mean, jitter) in seconds.

    >>> parse_latency_ms("80,20")
    (0.08, 0.02)
    """
    parts = text.split(",")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"expected MEAN[,JITTER] in ms, got {text!r}")
    values = [_non_negative(part.strip(), "latency") for part in parts]
    mean, jitter = values[0], values[1] if len(values) == 2 else 0.0
    return mean / 1000, jitter / 1000


def _non_negative(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{what} must be a finite number >= 0, got {text!r}")
    return value






def _whole(low: int, what: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number >= {low}, "
                                             f"got {text!r}")
        return value
    return parse


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, got {text!r}") from None


def _callback_url(text: str) -> str:
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise argparse.ArgumentTypeError(f"invalid callback URL {text!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(f"callback URL must be http(s)://HOST/..., got {text!r}")
    return text


def _non_empty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox flags to ``parser`` (used by this module and by ``cams-notebook``)."""
    parser.set_defaults(prog=parser.prog)  # so run() words its errors like argparse does
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=arg_types.port(),
        default=DEFAULT_PORT,
        help="TCP port, 0 = any free (default %(default)s)",
    )
    parser.add_argument(
        "--access-key-id",
        type=_non_empty,
        default=DEFAULT_ACCESS_KEY_ID,
        metavar="ID",
        help="the AccessKeyId the sandbox accepts (default %(default)s)",
    )
    parser.add_argument(
        "--access-key-secret",
        type=_non_empty,
        default=DEFAULT_ACCESS_KEY_SECRET,
        metavar="SECRET",
        help="its AccessKeySecret (default: the documented sandbox secret)",
    )
    parser.add_argument(
        "--qps",
        type=arg_types.qps,
        default=DEFAULT_QPS,
        help="SendChatappMessage requests per second before throttling (default %(default)s)",
    )
    parser.add_argument(
        "--latency-ms",
        dest="latency",
        type=parse_latency_ms,
        default=DEFAULT_LATENCY,
        metavar="MEAN[,JITTER]",
        help="simulated service latency in ms (default none)",
    )
    parser.add_argument(
        "--faults",
        default=DEFAULT_FAULTS,
        metavar="PROFILE",
        help="fault profile: none, realistic or harsh (default %(default)s; the core checks it)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULT_SEED,
        help="random seed, for reproducible latency, faults and receipts (default %(default)s)",
    )
    parser.add_argument(
        "--tier",
        default="TIER_UNLIMITED",  # number_health.DEFAULT_TIER; not imported: the CLI starts fast
        metavar="TIER",
        help="every sender's MessagingLimitTier: TIER_250, TIER_2K, TIER_10K, TIER_100K or "
        "TIER_UNLIMITED (default %(default)s; the core checks it)",
    )
    parser.add_argument(
        "--phone-numbers",
        default="",
        metavar="NUMBER,...",
        help="the account's WhatsApp numbers besides the default and the magic senders, listed "
        "by QueryChatappPhoneNumbers before they send (comma-separated)",
    )
    limits = parser.add_argument_group(
        "Meta's limits after acceptance", "a message over one gets a Failed receipt with "
        "Meta's code (off unless asked for)")
    limits.add_argument(
        "--profile", choices=("default", "realistic"), default="default",
        help="realistic: --sender-mps 80, --pair-rate, --enforce-tiers and --quality-drops; "
        "default: none of them; the flags below win over the profile")
    limits.add_argument(
        "--sender-mps", type=_whole(0, "--sender-mps"), metavar="N",
        help="messages per second per sender number, else Failed 130429 (0 = off; a "
        "coexistence number 20)")
    limits.add_argument(
        "--pair-rate", action=argparse.BooleanOptionalAction,
        help="one message per 6 s per sender and recipient, else Failed 131056")
    limits.add_argument(
        "--pair-burst", type=_whole(1, "--pair-burst"), default=1, metavar="N",
        help="messages a sender may send one recipient within 6 s (default %(default)s)")
    limits.add_argument(
        "--enforce-tiers", action=argparse.BooleanOptionalAction,
        help="the tier's unique users per 24 h, else Failed 131048")
    limits.add_argument(
        "--quality-drops", action=argparse.BooleanOptionalAction,
        help="a sender with 20%% refusals in 100 messages falls GREEN, YELLOW, RED")
    parser.add_argument(
        "--callback-url",
        type=_callback_url,
        metavar="URL",
        help="where to POST receipt batches (HTTP push)",
    )


def build_core(args: argparse.Namespace) -> SandboxCoreLike:
    """Build the sandbox core from parsed flags (imported late: the CLI must start fast)."""
    from ..sandbox.core import SandboxCore
    from ..sandbox.meta_limits import MetaLimits

    limits = MetaLimits.resolve(
        args.profile, sender_mps=args.sender_mps, pair_rate=args.pair_rate,
        pair_burst=args.pair_burst, enforce_tiers=args.enforce_tiers,
        quality_drops=args.quality_drops)
    core: SandboxCoreLike = SandboxCore(
        keys={args.access_key_id: args.access_key_secret},
        qps=args.qps,
        latency=args.latency,
        faults=args.faults,
        seed=args.seed,
        callback_url=args.callback_url,
        tier=args.tier,
        limits=limits,
        phone_numbers=[n.strip() for n in args.phone_numbers.split(",") if n.strip()],
    )
    return core


def _short_collections(core: Any, period: float = 1.0, idle: float = 3.0,
                       stop: threading.Event | None = None) -> None:
    """Keep garbage collection from pausing a busy sandbox; collect in full when it is idle.

    The sandbox counts each key's requests in an exact one-second window by its own clock,
    so a pause of the server is a burst to it. Full collections scan every object, and the
    record of a large campaign is many objects (each message, its receipts, their queue
    entries): at 30,000 messages one took 195 ms, and the sandbox throttled a client pacing
    itself at 244/s 85 times. So while requests arrive, what survives a young collection is
    frozen each second (later collections skip it; refcounting still frees it), and once
    the sandbox has been idle for ``idle`` seconds everything is unfrozen and collected in
    full, so cyclic garbage frozen meanwhile is freed then. Only in this process of its own:
    never in a notebook kernel that embeds the sandbox.
    """
    stop = stop or threading.Event()
    seen, quiet_since, frozen_since_idle = -1, time.monotonic(), False
    while not stop.wait(period):
        requests = core.stats.get("requests", 0)
        if requests != seen:
            seen, quiet_since, frozen_since_idle = requests, time.monotonic(), True
            gc.collect(1)
            gc.freeze()
        elif frozen_since_idle and time.monotonic() - quiet_since >= idle:
            frozen_since_idle = False
            gc.unfreeze()
            gc.collect()
            gc.freeze()


def run(args: argparse.Namespace) -> int:
    """Serve the sandbox until Ctrl-C or SIGTERM; return the process exit code."""
    from ..sandbox.server import SandboxServer

    try:
        core = build_core(args)
    except ValueError as exc:  # e.g. an unknown fault profile or tier
        print(f"{args.prog}: {exc}", file=sys.stderr)
        return ExitCode.USAGE

    def ready(server: SandboxServer) -> None:
        gc.collect()
        gc.freeze()  # the start-up objects: never worth scanning again
        threading.Thread(target=_short_collections, args=(core,), daemon=True,
                         name="sandbox-gc").start()
        # The secret is never printed: this line ends up in logs and screenshots.
        print(
            f"CAMS sandbox listening on {server.url} (AccessKeyId {args.access_key_id})", flush=True
        )
        limits = getattr(core, "limits", None)
        if limits is not None and limits.active:
            print(f"Meta's limits: {limits.describe()}", flush=True)

    try:
        SandboxServer(core, host=args.host, port=args.port).serve_forever(ready)
    except OSError as exc:  # port in use, address not available
        print(f"{args.prog}: cannot listen on {args.host}:{args.port}: {listen_advice(exc, args)}",
              file=sys.stderr)
        return ExitCode.FAILED
    print("sandbox stopped", flush=True)
    return ExitCode.OK


def listen_advice(exc: OSError, args: argparse.Namespace) -> str:
    """Why a server cannot listen, and what to do, from the error's ``errno``.

    >>> listen_advice(OSError(errno.EADDRINUSE, "in use"), argparse.Namespace(host="::1"))[:22]
    'address already in use'
    """
    if isinstance(exc, socket.gaierror):
        return (f"no such host {args.host!r}: pass --host with an address of this machine "
                "(127.0.0.1 for this machine only)")
    if exc.errno == errno.EADDRINUSE:
        return ("address already in use: another process is listening there; stop it, or "
                "pass another --port (0 takes any free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"this machine has no address {args.host}: pass --host 127.0.0.1, or an "
                "address of one of its interfaces")
    if exc.errno == errno.EACCES:
        return ("permission denied: ports below 1024 need privileges; pass --port "
                f"{DEFAULT_PORT}, or 0 for any free one")
    return exc.strerror or str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cams_notebook.sandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m cams_notebook.sandbox", description="Run the local fake CAMS service.",
        epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return int(run(parser.parse_args(argv)))
