"""The progress bar of a run that follows its receipts (campaigns/progress_bar.py, issue #13):
after the last request it says how many rows wait for their verdict instead of showing a rate
that only falls; refused, deferred and capped rows show once there is one."""

from __future__ import annotations

import pytest

from cams_notebook.campaigns.bookkeeping import Counts
from cams_notebook.campaigns.progress_bar import ProgressBar, following_receipts


def test_following_starts_only_once_every_row_is_done() -> None:
    assert following_receipts(Counts(done=99), 100, 12) == 0  # still sending
    assert following_receipts(Counts(done=100), 100, 12) == 12
    assert following_receipts(Counts(done=100), 100, 0) == 0  # every verdict is in
    assert following_receipts(Counts(done=40), None, 12) == 0  # a stream: its end is unknown


def test_the_bar_says_what_it_waits_for_and_drops_the_rate(
        capsys: pytest.CaptureFixture[str]) -> None:
    waiting = [3]
    bar = ProgressBar(4, True, waiting=lambda: waiting[0])
    assert bar.bar is not None
    bar(Counts(sent=2, done=2, started_at=0.0))
    assert bar.bar.desc == "sending"
    bar(Counts(sent=4, done=4, started_at=0.0))  # the last row is done: following now
    assert bar.bar.desc == "following receipts: 3 rows waiting for their verdict"
    assert "rate" not in bar.bar.postfix and "sent=4" in bar.bar.postfix
    waiting[0] = 1
    bar(Counts(sent=4, done=4, started_at=0.0))
    assert bar.bar.desc == "following receipts: 1 row waiting for their verdict"
    bar.close(Counts(sent=4, done=4, started_at=0.0))  # the run is over: no longer waiting
    assert bar.bar.desc == "sending"
    capsys.readouterr()


def test_refused_deferred_and_capped_show_when_there_are_some() -> None:
    quiet = ProgressBar.postfix(Counts(sent=3, started_at=0.0), 1.0)
    assert set(quiet) == {"sent", "failed", "unknown", "rate"}
    busy = ProgressBar.postfix(Counts(sent=3, refused=2, deferred=5, capped=1,
                                      started_at=0.0), 1.0)
    assert (busy["refused"], busy["deferred"], busy["capped"]) == (2, 5, 1)
    assert "rate" not in ProgressBar.postfix(Counts(sent=3, started_at=0.0), 1.0, following=2)
