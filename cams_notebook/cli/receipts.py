"""``cams-notebook receipts``: take delivery receipts into a SQLite store, for scripts.

::

    cams-notebook receipts --host 127.0.0.1 --port 8788 [--path /] [--store FILE]
                           [--secret-file FILE] [--allow 10.0.0.0/8 ...]  # HTTP push receiver
    cams-notebook receipts --pull [--message-type ChatAppStatus|ChatAppInbound|ChatAppAudit]
                           [--queue NAME] [--preset intl|cn] [--store FILE] [--drain]
                           [--endpoint URL | --sandbox]                   # queue consumer

The receiver answers each push only after storing it; the consumer deletes queue messages
only after storing them. Both print a line per batch received, and run until Ctrl-C or
SIGTERM (``--drain``: until the queue is empty), then print what they stored. The receiver
binds its port before it opens the store: when it cannot listen, no store file is created.

The receiver's secret (the last segment of the callback URL, or an ``X-Cams-Secret``
header) comes from the environment variable ``CAMS_RECEIPTS_SECRET`` or from the first line
of ``--secret-file`` (which wins), never from the command line, where ``ps`` shows it to
every user of the machine: ``--secret`` is refused. It is never printed (the URL shows
``<secret>``). An empty secret is an error; with neither source set, the receiver runs
without a secret, as it always has, and says so when it starts.

The pull asks CAMS for its queue, so it needs a client, found as for ``send``: the
credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``ALIBABA_CLOUD_ACCESS_KEY_SECRET``
(``ALIBABA_CLOUD_SECURITY_TOKEN`` for STS), the endpoint from ``--endpoint`` or
``CAMS_NOTEBOOK_ENDPOINT``. Without credentials it refuses to start (one line on stderr
naming the variables; no store is opened) unless ``--sandbox`` asks for the in-process local
sandbox, which has no endpoint: ``--sandbox --endpoint`` is a usage error. The push receiver
needs no client, so ``--endpoint`` and ``--sandbox`` without ``--pull`` are usage errors too.

Exit status (:class:`~.exits.ExitCode`, shared by every command), each error being one
line on stderr:

====  =================================================================================
0     stopped by Ctrl-C or SIGTERM (or ``--drain`` emptied the queue)
1     could not run: the port cannot be bound (in use, not permitted), the store cannot
      be opened, or the queue answered an error
2     usage error: a bad or conflicting flag, ``--secret`` on the command line, an empty
      or unreadable secret, no credentials for ``--pull``; nothing was opened
3, 4  ``--pull``: CAMS refused the credentials (3), or could not be reached (4)
====  =================================================================================
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import threading
from types import FrameType
from typing import TYPE_CHECKING

from ..receipts.server import DEFAULT_MAX_BODY
from ..receipts.store import DEFAULT_STORE
from ..smq import MAX_WAIT_SECONDS
from . import arg_types
from .client_flags import add_client_arguments, make_client
from .exits import ExitCode
from .failures import CommandError

if TYPE_CHECKING:
    from ..client import Client
    from ..receipts.server import PushSummary, ReceiptServer
    from ..receipts.store import ReceiptStore

__all__ = ["SECRET_ENV", "add_arguments", "run"]

DEFAULT_PORT = 8788
SECRET_ENV = "CAMS_RECEIPTS_SECRET"
"""The environment variable the receiver's secret is read from."""
_PREFIX = "cams-notebook receipts:"




def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help=f"SQLite file to store receipts in (default {DEFAULT_STORE})")
    push = parser.add_argument_group("HTTP push receiver (the default)")
    push.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1)")
    push.add_argument("--port", type=arg_types.port(), default=DEFAULT_PORT,
                      help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    push.add_argument("--path", default="/", help="callback path (default /)")
    push.add_argument("--secret-file", metavar="FILE",
                      help="require the secret on this file's first line as the last path "
                      "segment or in an X-Cams-Secret header (or set " + SECRET_ENV + ")")
    # Accepted only to refuse it with the reason: a command line is public on the machine.
    push.add_argument("--secret", help=argparse.SUPPRESS)
    push.add_argument("--allow", action="append", metavar="CIDR",
                      help="accept pushes only from these addresses/networks (repeatable)")
    push.add_argument("--max-body", type=_positive, default=DEFAULT_MAX_BODY,
                      help=f"largest push body in bytes (default {DEFAULT_MAX_BODY})")
    pull = parser.add_argument_group("queue consumer (--pull)")
    pull.add_argument("--pull", action="store_true", help="pull from the SMQ (MNS) queue instead")
    pull.add_argument("--message-type", default="ChatAppStatus",
                      choices=("ChatAppStatus", "ChatAppInbound", "ChatAppAudit"),
                      help="which queue (default status; ChatAppAudit: number, template and "
                      "account changes)")
    pull.add_argument("--queue", help="queue name (default: asked of QueryChatappPhoneNumbers)")
    pull.add_argument("--preset", choices=("intl", "cn"),
                      help="Dybaseapi/MNS endpoints (default: from the region)")
    add_client_arguments(pull)
    pull.add_argument("--dybaseapi-endpoint", help="override the Dybaseapi endpoint")
    pull.add_argument("--mns-endpoint", help="override the MNS endpoint")
    pull.add_argument("--wait", type=int, default=MAX_WAIT_SECONDS,
                      help=f"long-poll seconds per receive (0..{MAX_WAIT_SECONDS})")
    pull.add_argument("--drain", action="store_true", help="stop once the queue is empty")


def _on_sigterm(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _usage(line: str) -> CommandError:
    return CommandError(ExitCode.USAGE, line)


def run(args: argparse.Namespace) -> int:
    """Receive or pull until stopped; errors are :class:`~.failures.CommandError` (one line)."""
    if args.secret is not None:
        raise _usage(f"--secret would show the secret to every user of this machine (ps); "
                     f"set {SECRET_ENV} or use --secret-file")
    if args.pull:  # first: without a client, no store is opened (no file is created)
        if args.secret_file:
            raise _usage("--secret-file is for the HTTP push receiver, not --pull")
        return _run_pull(make_client(args), args)
    if args.sandbox or args.endpoint:
        flag = "--sandbox" if args.sandbox else "--endpoint"
        raise _usage(f"{flag} is for --pull (the queue consumer); the HTTP push receiver "
                     "talks to no CAMS endpoint")
    return _run_server(args, _read_secret(args.secret_file))


def _read_secret(path: str | None) -> str | None:
    """The secret from ``--secret-file`` or :data:`SECRET_ENV`; None when neither is set."""
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.readline()
        except (OSError, UnicodeDecodeError) as exc:
            raise _usage(f"cannot read --secret-file {path!r}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
        secret = text.strip()
        if not secret:
            raise _usage(f"--secret-file {path!r} is empty: write the secret on its first "
                         "line (or leave the flag out to run without a secret)")
        return secret
    value = os.environ.get(SECRET_ENV)
    if value is None:
        return None
    if not value.strip():
        raise _usage(f"{SECRET_ENV} is set but empty: set it to the secret, or unset it "
                     "to run without a secret")
    return value.strip()


def _summary(store: ReceiptStore, rejected: int | None, *, audits: bool = False) -> str:
    """What the store holds; audit events are listed when there are some (or ``audits``)."""
    counts = {k: store.count(k) for k in ("status", "inbound", "audit", "undecodable")}
    audit = (f"{counts['audit']} audit event(s), " if counts["audit"] or audits else "")
    line = (f"stored in {store.path}: {counts['status']} receipt(s), {counts['inbound']} "
            f"inbound message(s), {audit}{counts['undecodable']} undecodable")
    return line if rejected is None else f"{line}, {rejected} rejected event(s)"


def _run_server(args: argparse.Namespace, secret: str | None) -> int:
    from ..receipts.server import ReceiptServer

    printing = threading.Lock()

    def show(summary: PushSummary) -> None:
        rejected = f", {summary.rejected} rejected" if summary.rejected else ""
        with printing:
            print(f"received {summary.events} from {summary.client}: {summary.new} new, "
                  f"{summary.duplicates} duplicate(s){rejected}", flush=True)

    try:
        server = ReceiptServer(args.host, args.port, args.path, store=args.store, secret=secret,
                               allow=args.allow, max_body=args.max_body, on_push=show)
    except ValueError as exc:  # a bad --path, --allow or secret
        raise _usage(str(exc)) from None
    except sqlite3.Error as exc:
        raise CommandError(ExitCode.FAILED, f"cannot open {args.store!r}: {exc}") from None
    except OSError as exc:  # bound first: a port in use (or not permitted) creates no store
        raise CommandError(ExitCode.FAILED, f"cannot listen on {args.host}:{args.port}: "
                           f"{exc.strerror or exc}") from None
    return _serve(server, secret)


def _serve(server: ReceiptServer, secret: str | None) -> int:
    stop = threading.Event()
    _on_sigterm(stop)
    guard = "" if secret else " (no secret: anyone who can reach it can push)"
    try:  # from here on, SIGTERM (which raises KeyboardInterrupt) is a clean stop
        print(f"{_PREFIX} listening on {server.public_url}, storing in {server.store.path}"
              f"{guard}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:  # one that lands outside serve_forever's own catch
        pass
    finally:
        server.stop()
        line = _summary(server.store, server.rejected.count())
        server.store.close()
    print(line)
    return ExitCode.OK


def _run_pull(client: Client, args: argparse.Namespace) -> int:
    from ..receipts.store import ReceiptStore

    try:
        store = ReceiptStore(args.store)
    except (sqlite3.Error, OSError) as exc:
        client.close()
        raise CommandError(ExitCode.FAILED, f"cannot open {args.store!r}: {exc}") from None
    stop = threading.Event()
    _on_sigterm(stop)
    try:
        _pull(client, args, store, stop)  # a queue error goes up: main says it in one line
    finally:
        line = _summary(store, None, audits=args.message_type == "ChatAppAudit")
        store.close()
    print(line)
    return ExitCode.OK


def _pull(client: Client, args: argparse.Namespace, store: ReceiptStore,
          stop: threading.Event) -> None:
    from ..receipts.queue import ReceiptQueue

    queue = None
    try:
        queue = ReceiptQueue(client, message_type=args.message_type, queue_name=args.queue,
                             store=store, preset=args.preset,
                             dybaseapi_endpoint=args.dybaseapi_endpoint,
                             mns_endpoint=args.mns_endpoint, wait_seconds=args.wait)
        print(f"{_PREFIX} pulling {queue.queue_name}, storing in {args.store}", flush=True)
        while not stop.is_set():
            result = queue.poll(1 if args.drain else None)
            if result.received:
                print(f"received {result.received}: {result.stored.new} new, "
                      f"{result.stored.duplicates} duplicate(s)", flush=True)
            elif args.drain:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if queue is not None:
            queue.close()
        client.close()
