"""How cams_notebook shows notices and tables, in a notebook and in a terminal.

A notice (the sandbox's "nothing leaves this machine", a campaign's plan line) is information,
not an error: in a Jupyter kernel it is displayed as a small grey line, because the notebook
draws anything written to stderr in a red error box; in a terminal it goes to the stream the
caller names (stderr for a campaign's plan line, which must not mix with a CLI's data output).

:func:`table` draws a DataFrame the same way everywhere (results, the funnel, failures):
percentages as percentages, empty cells blank instead of ``NaN``, no column truncated with
"...", and HTML without random ids, so a notebook's checked output is the same on every run.
pandas' own ``Styler`` would do the formatting but needs jinja2, which is not a dependency of
the package, so this uses ``DataFrame.to_html`` and ``to_string`` with formatters.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any

import pandas as pd

__all__ = ["NOTE_STYLE", "Notice", "Table", "in_kernel", "notice", "table"]

NOTE_STYLE = "color: var(--jp-ui-font-color2, #616161); font-size: 0.9em;"
"""How a notice looks in a notebook: the theme's secondary text colour, a little smaller."""


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (not a terminal, a script or plain IPython)."""
    ipython = sys.modules.get("IPython")  # never imported here: a script has no need of it
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Notice:
    """One line of information, shown quietly in a notebook.

    >>> Notice("cams_notebook: 3 rows")
    cams_notebook: 3 rows
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<div class="cams-notice" style="{NOTE_STYLE}">{html.escape(self.text)}</div>'


def notice(text: str, *, stream: IO[str] | None = None) -> None:
    """Show ``text`` as a :class:`Notice` in a kernel, else print it to ``stream`` (stderr)."""
    if in_kernel():
        from IPython.display import display

        display(Notice(text))  # type: ignore[no-untyped-call]  # IPython leaves it untyped
    else:
        print(text, file=stream if stream is not None else sys.stderr, flush=True)


def _percent(value: Any) -> str:
    return "" if pd.isna(value) else f"{value:.1%}"


def _number(value: Any) -> str:
    if pd.isna(value):
        return ""
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


class Table:
    """A DataFrame drawn with cams_notebook's table style; ``.frame`` is the data itself.

    >>> Table(pd.DataFrame({"code": ["OK", None], "share": [0.5, 0.25]}), percent=["share"])
      code  share
    0   OK  50.0%
    1       25.0%
    """

    def __init__(self, frame: pd.DataFrame, *, percent: Iterable[str] = (),
                 index: bool = True) -> None:
        self.frame = frame
        self.percent = [c for c in percent if c in frame.columns]
        self.index = index

    def _formatters(self) -> dict[Any, Callable[[Any], str]]:
        formatters: dict[Any, Callable[[Any], str]] = {}
        for column in self.frame.columns:
            if column in self.percent:
                formatters[column] = _percent
            elif pd.api.types.is_float_dtype(self.frame[column]):
                formatters[column] = _number
        return formatters

    def __repr__(self) -> str:
        if self.frame.empty:
            return f"(no rows; columns: {', '.join(map(str, self.frame.columns))})"
        # to_string puts no space before a formatted column, as it does before the others
        spaced = {column: (lambda value, f=f: " " + f(value))
                  for column, f in self._formatters().items()}
        return self.frame.to_string(na_rep="", formatters=spaced, index=self.index)

    def _repr_html_(self) -> str:
        return self.frame.to_html(na_rep="", formatters=self._formatters(), index=self.index,
                                  border=0, classes="cams-table", escape=True,
                                  max_rows=None, max_cols=None)


def table(frame: pd.DataFrame, *, percent: Iterable[str] = (), index: bool = True) -> Table:
    """``frame`` drawn the cams_notebook way: ``percent`` columns as %, empty cells blank.

    Display the return value (the last line of a cell) or take the data back as ``.frame``.
    """
    return Table(frame, percent=percent, index=index)
