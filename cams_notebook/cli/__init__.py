"""The headless entry point: ``cams-notebook [--debug] COMMAND [flags]``.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
adding one is one line in :data:`COMMANDS`.

What stops a command is one line on stderr (``cams-notebook COMMAND: what happened: what to
do``) and an exit code of its kind (:mod:`.exits`, listed at the end of ``--help``), never a
Python traceback: a command raises :class:`~.failures.CommandError` for what it knows, and
:func:`main` says anything else in the same way (:func:`~.failures.describe`). ``--debug``
(before or after the command) or ``CAMS_NOTEBOOK_DEBUG=1`` shows the traceback instead, for
a bug report.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .exits import DEBUG_VARIABLE, ExitCode, epilog
from .failures import CommandError, describe

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module with add_arguments/run, one-line help)
    "sandbox": ("cams_notebook.cli.sandbox", "run the local fake CAMS service"),
    "send": ("cams_notebook.cli.send", "send a campaign from a CSV file"),
    "receipts": ("cams_notebook.cli.receipts", "take delivery receipts by HTTP push or queue pull"),
    "app": ("cams_notebook.cli.app", "serve the campaign panel and the composer as a web page"),
}


_DEBUG_HELP = f"on an error, show the Python traceback (also {DEBUG_VARIABLE}=1), for a bug report"


def build_parser() -> argparse.ArgumentParser:
    """Build the ``cams-notebook`` parser with one subparser per command."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="cams-notebook", description="Alibaba Cloud CAMS SendChatappMessage toolkit.",
        epilog=epilog(), formatter_class=formatter)
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog(),
                                  formatter_class=formatter)
        module.add_arguments(sub)
        if not any("--debug" in action.option_strings for action in sub._actions):
            # SUPPRESS: given after the command it sets debug; absent, it leaves the top one be
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=_DEBUG_HELP)
        sub.set_defaults(run=module.run)
    return parser


def _debugging(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_VARIABLE, "") not in (
        "", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit code (:mod:`.exits`)."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        if _debugging(args):
            raise
        print(f"cams-notebook {args.command}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every error is one line; --debug shows it whole
        if _debugging(args):
            raise
        failure = exc if isinstance(exc, CommandError) else describe(exc)
        first, *rest = failure.line.splitlines() or [""]
        print("\n".join([f"cams-notebook {args.command}: {first}", *rest]), file=sys.stderr)
        return failure.code
    return int(code)
