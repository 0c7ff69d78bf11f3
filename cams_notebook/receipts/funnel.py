"""The funnel of a campaign: sent -> delivered -> read, and what failed, as tables and a plot.

:class:`Funnel` is plain pandas (the tables work without matplotlib); :meth:`Funnel.plot`
needs matplotlib (the ``notebook`` extra). :class:`FunnelWidget` redraws the funnel from a
store while receipts arrive, in a daemon thread, so a cell that blocks does not freeze it.

Definitions: *sent* is every accepted message (every row of the result with a MessageId,
or without a result every message with a receipt); *delivered* counts Delivered or Read;
*failed* counts a Failed receipt; *pending* is sent with neither yet. Time to deliver and
time to read run from the send (the result's ``sent_at``, else the Sent receipt).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from ..display import NOTE_STYLE, table
from .events import DeliveryState


class _Receipts(Protocol):
    """What the live funnel reads of a store (``ReceiptStore``, which imports this module)."""

    @property
    def version(self) -> int: ...

    def count(self, kind: str) -> int: ...

    def funnel(self, result: pd.DataFrame | None = None) -> Funnel: ...


__all__ = ["STAGES", "Funnel", "FunnelWidget"]

STAGES = ("sent", "delivered", "read", "failed", "pending")
_QUANTILES = {"median_s": 0.5, "p90_s": 0.9, "p99_s": 0.99}


class Funnel:
    """Counts and rates of one campaign's delivery, its top failures and its timings.

    >>> from cams_notebook.receipts.events import fold, Receipt
    >>> events = [{"MessageId": "a", "Status": "Read", "Timestamp": 3000},
    ...           {"MessageId": "a", "Status": "Sent", "Timestamp": 1000},
    ...           {"MessageId": "b", "Status": "Failed", "Timestamp": 2000, "ErrorCode": "131026"}]
    >>> Funnel.from_states(fold(Receipt.model_validate(e) for e in events)).table["count"].tolist()
    [2, 1, 1, 1, 0]
    """

    def __init__(self, messages: pd.DataFrame) -> None:
        self.messages = messages
        """One row per message: status, sent/delivered/read times (UTC), failure code and reason."""

    @classmethod
    def from_states(cls, states: Mapping[str, DeliveryState],
                    result: pd.DataFrame | None = None) -> Funnel:
        """Build from folded states, restricted to (and timed from) a campaign result if given."""
        if result is not None and "message_id" in result:
            ids = [m for m in result["message_id"] if isinstance(m, str) and m]
            sent_at = dict(zip(result["message_id"], pd.to_datetime(
                result["sent_at"], utc=True), strict=True)) if "sent_at" in result else {}
        else:
            ids, sent_at = list(states), {}
        rows = []
        for mid in ids:
            s = states.get(mid)
            start = sent_at.get(mid)
            if (start is None or pd.isna(start)) and s is not None and s.sent_ms is not None:
                start = pd.Timestamp(s.sent_ms, unit="ms", tz="UTC")
            rows.append({
                "message_id": mid, "status": (s.status if s else None) or "pending",
                "sent_at": start,
                "delivered_at": _ts(s.delivered_at_ms if s else None),
                "read_at": _ts(s.read_ms if s else None),
                "failed_code": s.failed_code if s else None,
                "failed_reason": s.failed_reason if s else None,
            })
        frame = pd.DataFrame(rows, columns=["message_id", "status", "sent_at", "delivered_at",
                                            "read_at", "failed_code", "failed_reason"])
        for column in ("sent_at", "delivered_at", "read_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return cls(frame)

    @property
    def table(self) -> pd.DataFrame:
        """Messages per stage, ``rate`` as a share of sent, ``step_rate`` of the stage before."""
        status = self.messages["status"]
        sent = len(status)
        counts = {
            "sent": sent,
            "delivered": int(status.isin(["delivered", "read"]).sum()),
            "read": int(status.eq("read").sum()),
            "failed": int(status.eq("failed").sum()),
        }
        counts["pending"] = sent - counts["delivered"] - counts["failed"]
        before = {"sent": sent, "delivered": sent, "read": counts["delivered"], "failed": sent,
                  "pending": sent}
        frame = pd.DataFrame({
            "count": [counts[s] for s in STAGES],
            "rate": [_ratio(counts[s], sent) for s in STAGES],
            "step_rate": [_ratio(counts[s], before[s]) for s in STAGES],
        }, index=pd.Index(STAGES, name="stage"))
        return frame

    def failures(self, top: int = 5) -> pd.DataFrame:
        """The most frequent failure codes: code, a reason, messages and share of the failed."""
        failed = self.messages[self.messages["status"] == "failed"]
        columns = ["code", "reason", "messages", "share"]
        if failed.empty:
            return pd.DataFrame(columns=columns)
        codes = failed["failed_code"].fillna("(none)")
        frame = (failed.assign(code=codes).groupby("code", sort=False)
                 .agg(reason=("failed_reason", "first"), messages=("message_id", "size"))
                 .reset_index())
        frame["reason"] = [_reason(c, r) for c, r in zip(frame["code"], frame["reason"],
                                                          strict=True)]
        frame["share"] = frame["messages"] / len(failed)
        frame = frame.sort_values(["messages", "code"], ascending=[False, True], ignore_index=True)
        return frame.head(top)[columns]

    def durations(self) -> pd.DataFrame:
        """Per message: ``time_to_deliver_s`` and ``time_to_read_s`` (NaN when unknown)."""
        m = self.messages
        return pd.DataFrame({
            "message_id": m["message_id"],
            "time_to_deliver_s": (m["delivered_at"] - m["sent_at"]).dt.total_seconds(),
            "time_to_read_s": (m["read_at"] - m["sent_at"]).dt.total_seconds(),
        })

    def timings(self) -> pd.DataFrame:
        """Distribution of time to deliver and time to read, in seconds."""
        d = self.durations()
        rows = {}
        for name in ("time_to_deliver_s", "time_to_read_s"):
            values = d[name].dropna()
            row: dict[str, float] = {"messages": float(len(values))}
            for label, q in _QUANTILES.items():
                row[label] = float(values.quantile(q)) if len(values) else float("nan")
            row["max_s"] = float(values.max()) if len(values) else float("nan")
            rows[name.removesuffix("_s")] = row
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame["messages"] = frame["messages"].astype("int64")
        return frame

    def plot(self, *, figsize: tuple[float, float] = (11.0, 3.2)) -> Any:
        """A figure: the funnel as bars, and the time-to-deliver / time-to-read histograms."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Funnel.plot needs matplotlib: pip install 'cams-notebook[notebook]' "
                              "(the tables work without it)") from exc
        fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
        table = self.table
        bars = left.bar(table.index, table["count"],
                        color=["#4c78a8", "#54a24b", "#2e7d32", "#e45756", "#bab0ac"])
        left.bar_label(bars, labels=[f"{c} ({r:.0%})"
                                     for c, r in zip(table["count"], table["rate"], strict=True)])
        left.set_title("messages by stage")
        durations = self.durations()
        for name, label in (("time_to_deliver_s", "to deliver"), ("time_to_read_s", "to read")):
            values = durations[name].dropna()
            if len(values):
                right.hist(values, bins=30, alpha=0.6, label=label)
        right.set_title("seconds from send")
        right.set_xlabel("seconds")
        if right.get_legend_handles_labels()[0]:
            right.legend()
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        t = self.table
        count, rate = t["count"].astype(int), t["rate"].astype(float)
        if not count["sent"]:
            return "Funnel(no messages)"
        parts = ", ".join(f"{s} {count[s]} ({rate[s]:.0%})" for s in STAGES)
        return f"Funnel({parts})"

    def _repr_html_(self) -> str:
        # the same drawing as every other cams_notebook table (cams_notebook.display)
        stages = table(self.table, percent=["rate", "step_rate"])._repr_html_()
        failures = self.failures()
        top = table(failures, percent=["share"], index=False)._repr_html_()
        extra = f"<b>Top failures</b>{top}" if len(failures) else ""
        return f"<div><b>Delivery funnel</b>{stages}{extra}</div>"


def _ts(ms: int | None) -> pd.Timestamp | None:
    return None if ms is None else pd.Timestamp(ms, unit="ms", tz="UTC")


def _reason(code: str, reason: Any) -> Any:
    """A failure's reason without the code it repeats: CAMS writes "131026:Receiver is ..."."""
    if isinstance(reason, str) and reason.startswith(f"{code}:"):
        return reason[len(code) + 1:].strip()
    return reason


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


class FunnelWidget:
    """A live funnel: an ``ipywidgets.HTML`` redrawn every ``interval`` seconds while the
    store receives receipts. ``stop()`` ends the updates; display it like any widget."""

    def __init__(self, store: _Receipts, *, result: pd.DataFrame | None = None,
                 interval: float = 1.0) -> None:
        import ipywidgets

        self.store = store
        self.result = result
        self.interval = interval
        self.widget = ipywidgets.HTML(value=self._render())
        self._seen = store.version
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cams-funnel", daemon=True)
        self._thread.start()

    def _render(self) -> str:
        funnel = self.store.funnel(self.result)
        count = self.store.count("status")
        note = f'<div style="{NOTE_STYLE}">{count} receipt event(s) stored</div>'
        return funnel._repr_html_() + note

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.store.version != self._seen:
                self._seen = self.store.version
                try:
                    self.widget.value = self._render()
                except Exception as exc:  # noqa: BLE001 - a redraw must not kill the thread
                    self.widget.value = f"<pre>{html.escape(repr(exc))}</pre>"

    def stop(self) -> None:
        """Stop redrawing (the last drawing stays)."""
        self._stop.set()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"FunnelWidget(interval={self.interval}, running={not self._stop.is_set()})"
