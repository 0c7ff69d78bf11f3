"""``cams-notebook receipts``: take delivery receipts into a SQLite store, for scripts.

::

    cams-notebook receipts --host 127.0.0.1 --port 8788 [--path /] [--store FILE]
                           [--secret S] [--allow 10.0.0.0/8 ...]      # HTTP push receiver
    cams-notebook receipts --pull [--message-type ChatAppStatus] [--queue NAME]
                           [--preset intl|cn] [--store FILE] [--drain]  # queue consumer
                           [--endpoint URL | --sandbox]

The receiver answers each push only after storing it; the consumer deletes queue messages
only after storing them. Both run until Ctrl-C or SIGTERM (``--drain``: until the queue is
empty), then print what they stored.

The pull asks CAMS for its queue, so it needs a client, found as for ``send``: the
credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``ALIBABA_CLOUD_ACCESS_KEY_SECRET``
(``ALIBABA_CLOUD_SECURITY_TOKEN`` for STS), the endpoint from ``--endpoint`` or
``CAMS_NOTEBOOK_ENDPOINT``. Without credentials it refuses to start (one line on stderr
naming the variables; no store is opened) unless ``--sandbox`` asks for the in-process local
sandbox, which has no endpoint: ``--sandbox --endpoint`` is a usage error. The push receiver
needs no client, so ``--endpoint`` and ``--sandbox`` without ``--pull`` are usage errors too.
Exit status 0, or 2 for a usage error (a port in use, a bad argument, no credentials).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from ..receipts.server import DEFAULT_MAX_BODY
from ..receipts.store import DEFAULT_STORE
from ..smq import MAX_WAIT_SECONDS
from .send import add_client_arguments, client_from_args

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["add_arguments", "run"]

DEFAULT_PORT = 8788


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help=f"SQLite file to store receipts in (default {DEFAULT_STORE})")
    push = parser.add_argument_group("HTTP push receiver (the default)")
    push.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1)")
    push.add_argument("--port", type=int, default=DEFAULT_PORT,
                      help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    push.add_argument("--path", default="/", help="callback path (default /)")
    push.add_argument("--secret", help="require this secret as the last path segment or in an "
                      "X-Cams-Secret header")
    push.add_argument("--allow", action="append", metavar="CIDR",
                      help="accept pushes only from these addresses/networks (repeatable)")
    push.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                      help=f"largest push body in bytes (default {DEFAULT_MAX_BODY})")
    pull = parser.add_argument_group("queue consumer (--pull)")
    pull.add_argument("--pull", action="store_true", help="pull from the SMQ (MNS) queue instead")
    pull.add_argument("--message-type", default="ChatAppStatus",
                      choices=("ChatAppStatus", "ChatAppInbound"),
                      help="which queue (default status)")
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


def run(args: argparse.Namespace) -> int:
    from ..receipts.store import ReceiptStore

    client: Client | None = None
    if args.pull:  # first: without a client, no store is opened (no file is created)
        client = client_from_args(args, "receipts")
        if client is None:
            return 2
    elif args.sandbox or args.endpoint:
        flag = "--sandbox" if args.sandbox else "--endpoint"
        print(f"cams-notebook receipts: {flag} is for --pull (the queue consumer); the HTTP "
              "push receiver talks to no CAMS endpoint", file=sys.stderr)
        return 2
    try:
        store = ReceiptStore(args.store)
    except Exception as exc:  # noqa: BLE001 - sqlite3 errors, OSError
        if client is not None:
            client.close()
        print(f"cams-notebook receipts: cannot open {args.store!r}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    _on_sigterm(stop)
    try:
        code = _pull(client, args, store, stop) if client is not None else _serve(args, store)
    finally:
        counts = {k: store.count(k) for k in ("status", "inbound", "undecodable")}
        store.close()
    if code == 0:
        print(f"stored in {args.store}: {counts['status']} receipt(s), {counts['inbound']} inbound "
              f"message(s), {counts['undecodable']} undecodable")
    return code


def _serve(args: argparse.Namespace, store: object) -> int:
    from ..receipts.server import ReceiptServer

    try:
        server = ReceiptServer(args.host, args.port, args.path, store=store,  # type: ignore[arg-type]
                               secret=args.secret, allow=args.allow, max_body=args.max_body)
    except (OSError, ValueError) as exc:
        print(f"cams-notebook receipts: {exc}", file=sys.stderr)
        return 2
    shown = server.url.replace(f"/{args.secret}", "/<secret>") if args.secret else server.url
    print(f"cams-notebook receipts: listening on {shown}, storing in {args.store}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


def _pull(client: Client, args: argparse.Namespace, store: object, stop: threading.Event) -> int:
    from ..errors import CamsError
    from ..receipts.queue import ReceiptQueue

    queue = None
    try:
        queue = ReceiptQueue(client, message_type=args.message_type, queue_name=args.queue,
                             store=store, preset=args.preset,  # type: ignore[arg-type]
                             dybaseapi_endpoint=args.dybaseapi_endpoint,
                             mns_endpoint=args.mns_endpoint, wait_seconds=args.wait)
        print(f"cams-notebook receipts: pulling {queue.queue_name}, storing in {args.store}",
              flush=True)
        while not stop.is_set():
            result = queue.poll(1 if args.drain else None)
            if result.received:
                print(f"received {result.received}: {result.stored.new} new, "
                      f"{result.stored.duplicates} duplicate(s)", flush=True)
            elif args.drain:
                break
    except KeyboardInterrupt:
        pass
    except (CamsError, ValueError) as exc:
        print(f"cams-notebook receipts: {exc}", file=sys.stderr)
        return 2
    finally:
        if queue is not None:
            queue.close()
        client.close()
    return 0
