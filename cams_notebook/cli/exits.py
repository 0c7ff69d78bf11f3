"""The exit codes of ``cams-notebook``, defined once: the commands return them, ``--help``
lists them in its epilog and ``docs/cli.md`` explains them.

A scheduler or a shell script branches on them, so each names one kind of outcome, the same
for every command, and one line on stderr always says which and what to do about it.

>>> int(ExitCode.AUTH)
3
"""

from __future__ import annotations

import enum
import textwrap

__all__ = ["DEBUG_VARIABLE", "EXIT_CODES", "ExitCode", "epilog"]

DEBUG_VARIABLE = "CAMS_NOTEBOOK_DEBUG"
"""Set to 1 (like ``--debug``) to get the Python traceback of an error, for a bug report."""


class ExitCode(enum.IntEnum):
    """What a ``cams-notebook`` run came to."""

    OK = 0
    """Done: every row sent (or, with ``--dry-run``, valid); a server stopped by Ctrl-C."""
    FAILED = 1
    """It ran, but not all of it succeeded: a row failed, is invalid, has an unknown outcome,
    was not sent, is ``changed``, or waits for a later run (``deferred``, ``capped``); or a
    server (``sandbox``, ``receipts``) could not listen
    on its address or open its store."""
    USAGE = 2
    """Nothing was done: a bad flag, no credentials, an unreadable CSV, a field missing on
    every row, an output file that cannot be written."""
    AUTH = 3
    """CAMS refused the credentials or their permissions, or the account is not subscribed."""
    UNREACHABLE = 4
    """The endpoint could not be reached, or gave no answer."""
    JOURNAL = 5
    """The journal cannot be used: in use by another run, bound to another account, damaged,
    or it cannot be created where ``--journal`` says."""
    REFUSED = 6
    """The health check refused the campaign before its first request (a sender number
    BLOCKED, not connected or rated RED; a template not approved): nothing was sent. Also
    ``send --limits`` when the plan it prints has refusals."""
    INTERNAL = 70
    """A bug in cams-notebook (``sysexits`` EX_SOFTWARE): run again with ``--debug`` and
    report the traceback."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C before it could finish (``send`` instead keeps what was done and
    reports it: its rows left are ``not_sent``, exit 1)."""


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done (every row sent, or valid with --dry-run)",
    ExitCode.FAILED: "some rows failed, are invalid, unknown, not sent, changed, deferred or "
                     "capped; a server cannot listen or open its store",
    ExitCode.USAGE: "usage or configuration: bad flag, no credentials, unreadable CSV, a field "
                    "missing on every row; nothing was done",
    ExitCode.AUTH: "CAMS refused the credentials or permissions (or no subscription)",
    ExitCode.UNREACHABLE: "cannot reach the endpoint, or no answer from it",
    ExitCode.JOURNAL: "the journal is in use, bound to another account, damaged or cannot be "
                      "created; nothing was sent",
    ExitCode.REFUSED: "the health check refused the campaign (a sender or template the "
                      "platform would refuse); nothing was sent",
    ExitCode.INTERNAL: "a bug: run again with --debug and report the traceback",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C",
}
"""One line per exit code, for ``--help`` (``docs/cli.md`` says more)."""


def epilog() -> str:
    """The exit-code table and the debug switch, as the end of ``--help`` shows them."""
    rows = "\n".join(textwrap.fill(text, 78, initial_indent=f"  {int(code):>3}  ",
                                    subsequent_indent=" " * 7)
                      for code, text in EXIT_CODES.items())
    debug = textwrap.fill(f"Errors are one line on stderr; --debug (or {DEBUG_VARIABLE}=1) "
                          "shows the Python traceback instead, for a bug report. More in "
                          "docs/cli.md.", 78)
    return f"exit codes:\n{rows}\n\n{debug}"
