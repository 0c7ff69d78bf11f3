"""The progress line of a campaign run in a notebook or a terminal (``send_frame``, the CLI).

A tqdm bar (:mod:`tqdm.auto`: a widget in Jupyter, text in a terminal) with this run's tallies
after it, from the engine's :class:`~.bookkeeping.Counts`.
"""

from __future__ import annotations

import time

from .bookkeeping import Counts

__all__ = ["ProgressBar"]


class ProgressBar:
    """tqdm.auto bar (a widget in Jupyter, text in a terminal), updated at most 5 times a second.

    One rate only: this run's answered requests per second (:meth:`Counts.rate`), shown once
    two requests were answered; tqdm's own rate is left out of the line, since it would count
    rows replayed from the journal as if they had been sent. Rows waiting to be sent again
    show as ``retrying``, so a pause of the counts has a word.
    """

    BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.bar = None
        self._last = 0.0
        self._done = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="sending", unit="msg", dynamic_ncols=True,
                            bar_format=self.BAR_FORMAT)

    @staticmethod
    def postfix(counts: Counts, now: float) -> dict[str, object]:
        """What follows the bar: the tallies, ``retrying`` while any row waits, the rate."""
        shown: dict[str, object] = {"sent": counts.sent, "failed": counts.failed,
                                    "unknown": counts.unknown}
        if counts.throttled:
            shown["throttled"] = counts.throttled
        if counts.retrying:
            shown["retrying"] = counts.retrying
        if counts.skipped:
            shown["done_before"] = counts.skipped
        rate = counts.rate(now)
        if rate is not None:
            shown["rate"] = f"{rate:.0f} msg/s"
        return shown

    def __call__(self, counts: Counts) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and counts.done != self.bar.total:
            return
        self._last = now
        self.bar.update(counts.done - self._done)
        self._done = counts.done
        self.bar.set_postfix(self.postfix(counts, now), refresh=False)

    def close(self, counts: Counts) -> None:
        if self.bar is not None:
            self._last = 0.0
            self(counts)
            self.bar.close()
