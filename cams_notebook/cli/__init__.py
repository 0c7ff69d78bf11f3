"""The headless entry point: ``cams-notebook COMMAND [flags]``.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
adding one is one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module with add_arguments/run, one-line help)
    "sandbox": ("cams_notebook.cli.sandbox", "run the local fake CAMS service"),
    "send": ("cams_notebook.cli.send", "send a campaign from a CSV file"),
    "receipts": ("cams_notebook.cli.receipts", "take delivery receipts by HTTP push or queue pull"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the ``cams-notebook`` parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="cams-notebook", description="Alibaba Cloud CAMS SendChatappMessage toolkit."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code
