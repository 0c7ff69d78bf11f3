"""A campaign's result: one row per input row, as a DataFrame with the campaign's summary.

:class:`CampaignResult` is a plain ``pandas.DataFrame`` subclass (filter, join and plot it as
any frame) that remembers which campaign and account made it, and leads its HTML display
with the counts by status.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import cast

import pandas as pd

from .journal import JournalRow

__all__ = ["RESULT_COLUMNS", "STATUSES", "CampaignResult", "result_frame", "summarise"]

RESULT_COLUMNS = ["status", "message_id", "code", "message", "request_id", "attempts",
                  "latency_ms", "sent_at", "error", "to", "task_id", "key", "eligible_at"]
STATUSES = ("sent", "failed", "invalid", "unknown", "not_sent", "changed", "skipped", "deferred",
            "capped")
"""Every row status: ``deferred`` (beyond the sender's unique-user allowance) and ``capped``
(Meta's per-user marketing cap, 131049) wait for ``eligible_at`` and go in a later run."""

class CampaignResult(pd.DataFrame):
    """The outcome of a campaign, one row per input row, indexed like the input.

    A normal DataFrame (filter, join, plot it); its HTML display leads with the summary.
    """

    _metadata = ["campaign", "account"]
    campaign: str
    """The campaign's id (``result_frame`` sets it; pandas carries it through ``_metadata``)."""
    account: tuple[str, str]
    """The endpoint and AccessKeyId that sent it."""

    @property
    def _constructor(self) -> type[CampaignResult]:
        return CampaignResult

    def summary(self) -> pd.DataFrame:
        """Counts by status and service code."""
        return summarise(self)

    def _repr_html_(self) -> str | None:
        """The status line, the counts and the rows, in the package's table style (empty cells
        blank, not NaN), cut to pandas' display options as pandas cuts its own."""
        frame, most = pd.DataFrame(self), pd.get_option("display.max_rows")
        note = ""
        if most and len(frame) > most:
            half = max(1, (pd.get_option("display.min_rows") or most) // 2)
            frame = pd.concat([frame.head(half), frame.tail(half)])
            note = (f"<div>{len(self):,} rows × {len(self.columns)} columns: the first and "
                    f"last {half} shown</div>")
        view = frame.astype(object).where(frame.notna(), "")  # None and NaN alike: blank
        table = view.to_html(border=0, classes="cams-table",
                             max_cols=pd.get_option("display.max_columns")) + note
        if "status" not in self.columns:
            return table
        counts = self["status"].value_counts()
        line = ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES if counts.get(s, 0))
        return (f"<div><b>Campaign result</b>: {len(self)} rows: {line or 'none'}</div>"
                f"{summarise(self).to_html()}{table or ''}")


def summarise(result: pd.DataFrame) -> pd.DataFrame:
    """Counts of a result by status and code, largest first."""
    codes = result["code"].fillna("") if "code" in result else pd.Series("", index=result.index)
    table = (pd.DataFrame({"status": result["status"], "code": codes})
             .value_counts().rename("rows").reset_index())
    return table.sort_values(["rows", "status"], ascending=[False, True], ignore_index=True)


# -- planning ----------------------------------------------------------------------------------

def result_frame(order: list[tuple[Hashable, str, JournalRow | None]],
                  rows: Mapping[str, tuple[Hashable, JournalRow]], campaign_id: str,
                  account: tuple[str, str], index_names: list[Hashable] | None = None
                  ) -> CampaignResult:
    records, index = [], []
    for idx, key, invalid in order:
        row = invalid or (rows[key][1] if key in rows else JournalRow(key=key, status="not_sent"))
        records.append({c: getattr(row, c) for c in RESULT_COLUMNS})
        index.append(idx)
    names = index_names or [None]
    labels: pd.Index
    if len(names) > 1:  # the input had a MultiIndex, so every label is a tuple
        tuples = cast("list[tuple[Hashable, ...]]", index)
        labels = pd.MultiIndex.from_tuples(tuples, names=names) if index else \
            pd.MultiIndex.from_arrays([[]] * len(names), names=names)
    else:
        labels = pd.Index(index, name=names[0], tupleize_cols=False)
    result = CampaignResult(records, index=labels, columns=RESULT_COLUMNS)
    result["sent_at"] = pd.to_datetime(result["sent_at"], utc=True, format="ISO8601")
    result["eligible_at"] = pd.to_datetime(result["eligible_at"], utc=True, format="ISO8601")
    result["attempts"] = result["attempts"].fillna(0).astype("int64")
    result["latency_ms"] = result["latency_ms"].astype("float64")
    result.campaign = campaign_id
    result.account = account
    return result
