"""The package's words for the Python API, said in flags for the command line.

The campaigns package tells a notebook user what to pass (``on_invalid='skip'``,
``journal=False``, ``params=``); at a shell prompt the same advice is a flag
(``--on-invalid skip``). The package keeps its words; the CLI translates what it prints, from
one table here, so a new phrase there is one line here. Errors the CLI catches are
translated with :func:`flag_wording`; what the package prints itself while a campaign runs
(its notes on stderr) passes through :func:`translated_stderr`.

Written here rather than taken from a library: it is a fixed table of this package's own
phrases, a dozen lines of ``re``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ..models import WIRE_NAMES

__all__ = ["FIELD_METAVARS", "flag_for", "flag_wording", "translated_stderr"]

FIELD_METAVARS: dict[str, str] = {
    "from_": "NUMBER", "to": "NUMBER", "content": "JSON", "template_code": "CODE",
    "template_name": "NAME", "language": "LANG", "template_params": "JSON", "payload": "JSON",
    "product_action": "JSON", "flow_action": "JSON", "message_type": "TYPE", "ttl": "SECONDS",
    "fall_back_duration": "SECONDS", "cust_space_id": "ID", "cust_waba_id": "ID",
    "isv_code": "CODE", "task_id": "ID", "context_message_id": "ID", "fall_back_id": "ID",
    "fall_back_content": "TEXT", "tag": "TEXT", "tracking_data": "TEXT",
    "ad_account_id": "ID", "message_campaign_id": "ID", "token_type": "TYPE",
}
"""What a per-field flag takes, as its ``--help`` shows it (choices show themselves)."""

_FIELD_OF_WIRE = {wire: name for name, wire in WIRE_NAMES.items()}


def flag_for(field: str) -> str:
    """The flag that sets a request field, from its Python or wire name.

    >>> flag_for("From"), flag_for("fall_back_id")
    ('--from', '--fall-back-id')
    """
    name = _FIELD_OF_WIRE.get(field, field)
    return "--" + name.rstrip("_").replace("_", "-")


def _constant(match: re.Match[str]) -> str:
    return f"{match[1]} is given both as column {match[2]} and as {flag_for(match[1])}"


_PHRASES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\bon_invalid='skip'"), "--on-invalid skip"),
    (re.compile(r"\bon_changed='send'"), "--on-changed send"),
    (re.compile(r"\bpass journal=False to send them anyway"),
     "run without --journal, or with a new journal file, to send them anyway"),
    (re.compile(r"\bpass the journal= given to send_frame"), "pass the --journal of that run"),
    (re.compile(r"\bname a key= column"), "name a column with --key"),
    (re.compile(r"\bkey column (\S+) is not in the frame"), r"--key column \1 is not in the CSV"),
    (re.compile(r"\bparams names column\(s\) not in the frame"),
     "--params names column(s) not in the CSV"),
    (re.compile(r"\btemplate variables given both by params= and as a constant"),
     "template variables given both by --params and --template-params"),
    (re.compile(r"\b(\w+) is given both as column ('[^']*') and as a constant"), _constant),
    (re.compile(r"\bpass the campaign's cust_space_id\b"), "pass --cust-space-id ID"),
    (re.compile(r"\bturn the health check off\b"), "pass --no-health-check"),
    (re.compile(r"\brun the campaign again then\b"), "run the same command again then"),
    (re.compile(r"\bin the frame\b"), "in the CSV"),
)


def flag_wording(text: str) -> str:
    """``text`` with the Python API's advice said in flags.

    >>> flag_wording("Fix them, or pass on_invalid='skip' to send the valid rows only")
    'Fix them, or pass --on-invalid skip to send the valid rows only'
    """
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return text


class _Translating:
    """A text stream that writes to ``target`` what it is given, in flags."""

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def write(self, text: str) -> int:
        # print() hands each message over whole (then its end), and the progress bar never
        # says these phrases, so translating write by write is enough
        self._target.write(flag_wording(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self._target, name)


@contextmanager
def translated_stderr() -> Iterator[None]:
    """While it lasts, what the package prints on stderr is said in flags."""
    original = sys.stderr
    sys.stderr = _Translating(original)
    try:
        yield
    finally:
        sys.stderr = original
