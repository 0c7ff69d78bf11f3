"""``cams-notebook app``: the campaign panel and the composer as a web page, for people who
run campaigns and do not use notebooks.

::

    cams-notebook app [recipients.csv] [--port 8866] [--host 127.0.0.1] [--journal PATH]
        [--qps 250] [--receipts STORE] [--endpoint URL | --sandbox]

The page is served by **Voilà**, not Solara. Both serve ipywidgets, but Voilà runs the page in a
real Jupyter kernel, one per visitor, exactly as JupyterLab does: the panel's Send runs as an
asyncio task on the kernel's loop and Stop is processed while it runs, the same code path the
notebooks and their browser tests exercise, with no change to the widgets. Solara would host the
widgets in its own server process (one process for every visitor, its own event-loop handling
and reactive layer), a second way to run the same widgets that nothing else here tests. Voilà is
also a Jupyter project built on the jupyter_server already installed, and its defaults are the
security this needs: sources stripped from the page, and a kernel websocket that passes only
widget (comm) and kernel-info messages, so the page cannot execute code (``execute_request`` is
dropped by the server; ``tests/e2e/test_app_browser.py`` sends one and checks it never runs).

What it does, in order, and why:

* Where it sends is never guessed, as for ``cams-notebook send``: credentials from
  ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` (``ALIBABA_CLOUD_SECURITY_TOKEN`` for STS) or
  ``--sandbox``; without them one line on stderr and exit 2, before anything is read or served.
  The kernel reads the same environment itself (``Client.from_env()``): no credential is written
  to the page, its notebook, the command line or the log.
* The CSV is read here first, so a bad file is one line naming it and the problem (exit 2), not
  an error box in a page.
* The journal: ``--journal PATH``, else next to the CSV, ``<name>.journal.sqlite``
  (``<name>.sandbox.journal.sqlite`` with ``--sandbox``: a journal belongs to one account, and a
  trial in the sandbox must not claim the real campaign's file); without a CSV (the page then
  takes one by upload) ``cams-notebook-app[.sandbox].journal.sqlite`` in the current directory.
  Every send of the page goes through it, so running the app again never sends a row twice.
* The page is a notebook this command writes to a fresh temporary directory (with a kernelspec
  for this interpreter, so the kernel imports this very package), never the user's code; Voilà
  serves that directory only, and the directory is removed when the server stops.
* It binds 127.0.0.1. ``--host`` binds elsewhere, with a warning, and then the page asks for a
  random token (printed in the URL): anyone who can reach the page can send with the account.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._config import DEFAULT_QPS, LOOPBACK_HOSTS
from . import arg_types
from .send import add_client_arguments, client_from_args

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "add_arguments", "default_journal", "is_loopback",
           "page_settings", "read_recipients", "run", "voila_command", "write_page"]

DEFAULT_HOST = "127.0.0.1"
"""Loopback only, unless ``--host`` says otherwise."""
DEFAULT_PORT = 8866
"""Voilà's own default port."""
START_TIMEOUT = 120.0
"""Seconds to wait for the server to listen before giving up on it."""
STOP_TIMEOUT = 20.0
"""Seconds the server has to shut its kernels down after Ctrl-C before it is killed."""
PAGE_NAME = "cams-notebook.ipynb"
KERNEL_NAME = "cams-notebook-app"
_PREFIX = "cams-notebook app:"






def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="CSV file, one recipient per row, loaded into "
                        "the campaign panel (without it, the page takes one by upload)")
    parser.add_argument("--port", type=arg_types.port(1), default=DEFAULT_PORT,
                        help="TCP port (default %(default)s)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to bind (default %(default)s: this machine only; any "
                        "other asks for a token, and anyone who reaches it can send)")
    parser.add_argument("--journal", metavar="PATH",
                        help="SQLite journal of every send (default: next to the CSV, "
                        "<name>.journal.sqlite, or <name>.sandbox.journal.sqlite with "
                        "--sandbox); running the app again never sends a row twice")
    parser.add_argument("--qps", type=arg_types.qps, default=DEFAULT_QPS,
                        help="requests per second of a send (default %(default)s)")
    parser.add_argument("--receipts", metavar="STORE",
                        help="receipt store (SQLite) that `cams-notebook receipts` fills: the "
                        "composer shows the delivery status of what it sends (the sandbox "
                        "has its own queue and needs none)")
    add_client_arguments(parser)


def default_journal(csv: str | None, *, sandbox: bool, cwd: str | None = None) -> Path:
    """Where the page's journal lives without ``--journal``: next to the CSV, named after it,
    or in ``cwd`` (the current directory); a sandbox journal has a name of its own.

    >>> default_journal("/data/spring.csv", sandbox=False).as_posix()
    '/data/spring.journal.sqlite'
    >>> default_journal(None, sandbox=True, cwd="/work").as_posix()
    '/work/cams-notebook-app.sandbox.journal.sqlite'
    """
    suffix = ".sandbox.journal.sqlite" if sandbox else ".journal.sqlite"
    if csv is not None:
        path = Path(csv).absolute()
        return path.with_name(path.stem + suffix)
    return Path(cwd if cwd is not None else os.getcwd()).absolute() / f"cams-notebook-app{suffix}"


def read_recipients(source: str | IO[bytes]) -> pd.DataFrame:
    """The CSV (a path, or an uploaded file's bytes) as the panel gets it: every cell text, so
    ``+86...`` and leading zeros stay; ValueError, worded for one line, when it cannot be used."""
    import pandas as pd

    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=True)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise ValueError("the file is empty (no header row)") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError) as exc:  # pandas' ParserError is a ValueError
        raise ValueError(" ".join(str(exc).split())) from None
    if frame.empty:
        raise ValueError(f"no recipients: a header ({', '.join(map(str, frame.columns))}) "
                         "and no rows")
    unnamed = [n for n, c in enumerate(frame.columns, 1) if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise ValueError(f"column {unnamed[0]} of the header has no name")
    return frame


def page_settings(args: argparse.Namespace, journal: Path) -> dict[str, Any]:
    """What the page needs to know, as plain values (no credential: the kernel reads those
    from its environment). Files are absolute (the kernel runs elsewhere); the page names
    them as the command line did, relative to where it ran when they are under it."""
    csv = Path(args.file).absolute() if args.file else None
    return {"csv": str(csv) if csv else None, "journal": str(journal),
            "csv_name": _shown(csv) if csv else None, "journal_name": _shown(journal),
            "sandbox": bool(args.sandbox), "endpoint": args.endpoint, "qps": args.qps,
            "receipts": str(Path(args.receipts).absolute()) if args.receipts else None}


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write_page(directory: Path, settings: dict[str, Any]) -> Path:
    """Write the page (a one-cell notebook that builds it from ``settings``) and a kernelspec
    for this interpreter into ``directory``; returns the notebook's path.

    The notebook is written as nbformat 4.5 JSON here: one fixed cell needs no library (and
    nbformat, untyped, comes only with the app's extra)."""
    import json

    source = ("# Written by `cams-notebook app`; Voila runs it and shows its output only.\n"
              "from cams_notebook.cli.app_page import show_app\n\n"
              f"show_app({settings!r})\n")
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": KERNEL_NAME, "display_name": "cams-notebook",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [{"cell_type": "code", "id": "cams-notebook-app", "metadata": {},
                   "execution_count": None, "outputs": [], "source": source}]}
    path = directory / PAGE_NAME
    path.write_text(json.dumps(notebook, indent=1))
    spec = directory / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cams-notebook", "language": "python"}))
    return path


def voila_command(notebook: Path, host: str, port: int) -> list[str]:
    """The Voilà server for ``notebook``, with the settings the page's safety rests on given on
    the command line, where no config file overrides them."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser",
            f"--Voila.ip={host}", f"--Voila.port={port}", "--Voila.port_retries=0",
            "--Voila.log_level=WARN", "--VoilaConfiguration.strip_sources=True",
            "--VoilaConfiguration.show_tracebacks=False", "--theme=light"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (no token needed, no warning)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host in LOOPBACK_HOSTS


def _port_taken(host: str, port: int) -> str | None:
    """Why ``port`` cannot be bound on ``host``, or None when it can (checked before the server
    starts, so the error is one line here rather than a server log)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _account_line(args: argparse.Namespace) -> str | None:
    """Which account the page sends with (the key id masked), or None once one line on stderr
    said why there is none."""
    from ..credentials import mask_key_id

    quiet = contextlib.redirect_stdout(io.StringIO()) if args.sandbox else contextlib.nullcontext()
    with quiet:  # the notice says "in this process"; the sandbox will be in the page's kernel
        client = client_from_args(args, "app")
    if client is None:
        return None
    try:
        endpoint, key_id = client.account
    finally:
        client.close()
    if args.sandbox:
        return "the local sandbox, in the page's kernel: nothing leaves this machine"
    return f"account {mask_key_id(key_id)} at {endpoint}"


def _checks(args: argparse.Namespace) -> tuple[str, Path, int | None] | None:
    """Everything that can be refused before serving: the account, the CSV, the journal's
    folder, the receipt store, the address. None once one line on stderr said why."""
    account = _account_line(args)  # first: without credentials nothing is read
    if account is None:
        return None
    rows = None
    problem = None
    if args.file:
        try:
            rows = len(read_recipients(args.file))
        except ValueError as exc:
            problem = f"cannot read {args.file!r}: {exc}"
    journal = (Path(args.journal).absolute() if args.journal
               else default_journal(args.file, sandbox=args.sandbox))
    if problem is None and (not journal.parent.is_dir()
                            or not os.access(journal.parent, os.W_OK)):
        problem = (f"the journal {str(journal)!r} cannot be written: its folder is missing "
                   "or read-only; pass --journal PATH")
    if problem is None and args.receipts and not os.path.isfile(args.receipts):
        problem = (f"--receipts {args.receipts!r}: no such receipt store (fill it with "
                   "`cams-notebook receipts --pull --store ...`)")
    taken = None if problem is not None else _port_taken(args.host, args.port)
    if taken:
        problem = f"cannot listen on {args.host}:{args.port}: {taken}; pass --port"
    if problem is not None:
        print(f"{_PREFIX} {problem}", file=sys.stderr)
        return None
    return account, journal, rows


def run(args: argparse.Namespace) -> int:
    checked = _checks(args)
    if checked is None:
        return 2
    account, journal, rows = checked
    token = None if is_loopback(args.host) else secrets.token_urlsafe(24)
    if token is not None:
        print(f"{_PREFIX} warning: listening on {args.host}, not this machine only: anyone who "
              "can reach it and has the URL's token can send with this account", file=sys.stderr)
    print(f"{_PREFIX} sending with {account}")
    if args.file:
        print(f"{_PREFIX} recipients {Path(args.file).absolute()} ({rows} rows)")
    print(f"{_PREFIX} journal {journal} (running the app again never sends a row twice)")
    with tempfile.TemporaryDirectory(prefix="cams-notebook-app-") as tmp:
        directory = Path(tmp)
        notebook = write_page(directory, page_settings(args, journal))
        return _serve(directory, notebook, args, token)


def _serve(directory: Path, notebook: Path, args: argparse.Namespace, token: str | None) -> int:
    """Run Voilà on ``notebook`` until it stops or Ctrl-C; the server's exit status."""
    import json

    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(directory / "jupyter"), env.get("JUPYTER_PATH", "")) if p)
    if token is not None:  # in a file only this user reads, not on the command line
        config = directory / "voila.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps({"Voila": {"token": token}}))
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{args.port}/" + (f"?token={token}" if token else "")
    # its own session: Ctrl-C reaches this process only, which stops the server in order
    server = subprocess.Popen(voila_command(notebook, args.host, args.port), cwd=directory,
                              env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if _wait_listening(server, args.host, args.port):
            print(f"{_PREFIX} serving {url} (Ctrl-C to stop)", flush=True)
        elif server.poll() is None:
            print(f"{_PREFIX} the server did not listen within {START_TIMEOUT:.0f} s; "
                  "stopping it", file=sys.stderr)
            return 1
        code = server.wait()
        if code:
            print(f"{_PREFIX} the server stopped with exit status {code}", file=sys.stderr)
        return 1 if code else 0
    except KeyboardInterrupt:
        print(f"{_PREFIX} stopping", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(server)


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _wait_listening(server: subprocess.Popen[bytes], host: str, port: int) -> bool:
    """True once the server accepts connections; False if it exited or never listened."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host in ("::", "[::]") else host
    deadline = time.monotonic() + START_TIMEOUT
    while server.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection((target.strip("[]"), port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Voilà then shuts its kernels down), SIGKILL if it does not end in time."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
