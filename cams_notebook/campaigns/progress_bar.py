"""The progress line of a campaign run in a notebook or a terminal (``send_frame``, the CLI).

A tqdm bar (:mod:`tqdm.auto`: a widget in Jupyter, text in a terminal) with this run's tallies
after it, from the engine's :class:`~.bookkeeping.Counts`.

With ``receipts=``, the engine keeps following the receipts after its last request while rows
wait for their verdict (:mod:`.delivery_follow`). Nothing is sent then, so a rate would only
fall; the bar says what it waits for instead: ``following receipts: 12 rows waiting for their
verdict``. :func:`following_receipts` tells that phase from the counts, for the panel too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .bookkeeping import Counts

__all__ = ["ProgressBar", "following_receipts"]


def following_receipts(counts: Counts, total: int | None, waiting: int) -> int:
    """How many rows wait for their verdict after the run's last request, or 0 while rows are
    still going out.

    ``total`` is the run's valid rows (each is ``done`` once: sent, failed, replayed from the
    journal or deferred; a row refused after acceptance is not done until it is sent again),
    ``waiting`` the rows sent whose receipts have not said yet (the follower's ``following``).
    Without a total (a stream of chunks) the end is not known, so this is 0.

    >>> following_receipts(Counts(done=100), 100, 12), following_receipts(Counts(done=99), 100, 12)
    (12, 0)
    """
    if total is None or counts.done < total:
        return 0
    return max(waiting, 0)


class ProgressBar:
    """tqdm.auto bar (a widget in Jupyter, text in a terminal), updated at most 5 times a second.

    One rate only: this run's answered requests per second (:meth:`Counts.rate`), shown once
    two requests were answered; tqdm's own rate is left out of the line, since it would count
    rows replayed from the journal as if they had been sent. Rows waiting to be sent again
    show as ``retrying``, so a pause of the counts has a word; ``refused``, ``deferred`` and
    ``capped`` show once there is one.

    ``waiting`` (settable once the engine exists) says how many rows sent wait for their
    receipts' verdict; once every row is done the bar says so instead of a falling rate
    (:func:`following_receipts`).
    """

    BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
    DESCRIPTION = "sending"

    def __init__(self, total: int | None, enabled: bool, *,
                 waiting: Callable[[], int] | None = None) -> None:
        self.bar = None
        self.total = total
        self.waiting = waiting
        """Rows sent and still waiting for their verdict (the engine's follower), or None."""
        self._last = 0.0
        self._done = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=self.DESCRIPTION, unit="msg", dynamic_ncols=True,
                            bar_format=self.BAR_FORMAT)

    @staticmethod
    def postfix(counts: Counts, now: float, following: int = 0) -> dict[str, object]:
        """What follows the bar: the tallies, ``retrying`` while any row waits, the platform's
        refusals, deferrals and caps when there are any, and the rate (none while following
        receipts after the last request: nothing is sent then)."""
        shown: dict[str, object] = {"sent": counts.sent, "failed": counts.failed,
                                    "unknown": counts.unknown}
        extra = {"throttled": counts.throttled, "retrying": counts.retrying,
                 "refused": counts.refused, "deferred": counts.deferred,
                 "capped": counts.capped, "done_before": counts.skipped}
        shown.update({name: n for name, n in extra.items() if n})
        rate = counts.rate(now)
        if rate is not None and not following:
            shown["rate"] = f"{rate:.0f} msg/s"
        return shown

    @staticmethod
    def description(following: int) -> str:
        """The words before the bar: ``sending``, or what the run waits for after its last
        request."""
        if not following:
            return ProgressBar.DESCRIPTION
        rows = "row" if following == 1 else "rows"
        return f"following receipts: {following} {rows} waiting for their verdict"

    def __call__(self, counts: Counts) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and counts.done != self.bar.total:
            return
        self._last = now
        following = following_receipts(counts, self.total,
                                        self.waiting() if self.waiting is not None else 0)
        self._show(counts, now, following)

    def _show(self, counts: Counts, now: float, following: int) -> None:
        assert self.bar is not None
        self.bar.update(counts.done - self._done)
        self._done = counts.done
        self.bar.set_description_str(self.description(following), refresh=False)
        self.bar.set_postfix(self.postfix(counts, now, following), refresh=False)

    def close(self, counts: Counts) -> None:
        """The last update (the run is over: no longer following anything), then close."""
        if self.bar is not None:
            self._show(counts, time.monotonic(), 0)
            self.bar.close()
