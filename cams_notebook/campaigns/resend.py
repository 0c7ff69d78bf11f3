"""Send again the rows of a campaign that reconciliation found ``not_sent``, and give back
the whole result in the frame's order.

Apart from :mod:`.reconcile` (which re-exports :func:`resend`) because its work is matching a
frame to a result, by index label, safely: a frame sorted since the campaign must not send one
person's message to another.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bookkeeping import WAITING
from .delivery_follow import REFUSED_CODES
from .settling import bare_number

__all__ = ["resend"]


def _labels(labels: Iterable[Any]) -> str:
    shown = list(labels)
    text = ", ".join(repr(label) for label in shown[:5])
    return text + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


def _alignment(frame: pd.DataFrame, result: pd.DataFrame) -> npt.NDArray[np.intp]:
    """For each row of ``frame``, the position of its row in ``result`` (matched by label)."""
    if frame.index.equals(result.index):
        # the same labels in the same order: row for row, unless repeated labels were
        # shuffled among themselves, which the recipients show
        column = next((c for c in ("to", "To") if c in frame.columns), None)
        if frame.index.has_duplicates and column is not None:
            theirs = [bare_number(str(v)) for v in frame[column].to_numpy()]
            ours = [bare_number(v) for v in result["to"].to_numpy()]
            moved = [label for label, a, b in zip(frame.index, theirs, ours, strict=True)
                     if b and a != b]
            if moved:
                raise ValueError(f"resend matches rows by index label, and the rows labelled "
                                 f"{_labels(dict.fromkeys(moved))} are not in the result's order "
                                 "(their recipients differ): pass the frame as it was sent")
        return np.arange(len(frame))
    duplicated = [*frame.index[frame.index.duplicated()], *result.index[result.index.duplicated()]]
    if duplicated:
        raise ValueError(
            f"resend matches frame and result rows by index label, and label(s) "
            f"{_labels(dict.fromkeys(duplicated))} appear more than once in a different order: "
            "cannot tell which row is which. Pass the frame in the result's order, or give it "
            "unique labels before sending")
    missing, extra = result.index.difference(frame.index), frame.index.difference(result.index)
    if len(missing) or len(extra):
        parts = ([f"label(s) {_labels(missing)} of the result are not in the frame"]
                 if len(missing) else [])
        parts += ([f"label(s) {_labels(extra)} of the frame are not in the result"]
                  if len(extra) else [])
        raise ValueError("resend needs the campaign's frame, matched to its result by index "
                         "label: " + "; ".join(parts))
    return np.asarray(result.index.get_indexer(frame.index))


def _goes_again(result: pd.DataFrame, send_kwargs: dict[str, Any]) -> pd.Series:
    """Which rows of ``result`` go again (see :func:`resend`)."""
    status = result["status"]
    codes = result["code"] if "code" in result else pd.Series(None, index=result.index)
    refused = (status == "failed") & codes.isin(list(REFUSED_CODES))
    waiting = status.isin(list(WAITING))
    if "eligible_at" in result and waiting.any():
        now = pd.Timestamp(send_kwargs.get("wall", time.time)(), unit="s", tz="UTC")
        due = pd.to_datetime(result["eligible_at"], utc=True, format="ISO8601")
        waiting &= due.isna() | (due <= now)
    return (status == "not_sent") | refused | waiting


def resend(frame: pd.DataFrame, result: pd.DataFrame, **send_kwargs: Any) -> pd.DataFrame:
    """Send the rows of ``frame`` that ``result`` says may go again; return the combined
    result, in ``frame``'s order.

    Those are the rows ``not_sent``; the rows the platform refused after accepting them
    (``failed`` with 130429 or 131056: nobody got them); and the rows ``deferred`` or
    ``capped`` whose ``eligible_at`` has come (by ``wall``, when given in ``send_kwargs``).

    Rows are matched by index label, so ``frame`` may be re-sorted since the campaign; labels
    missing on either side, or repeated labels in a different order, are a ``ValueError``
    naming them. Pass the same ``client``, ``journal`` and constants given to ``send_frame``;
    rows that were sent are not touched.
    """
    from .frames import CampaignResult, send_frame

    if len(frame) != len(result):
        raise ValueError(f"resend needs the campaign's frame and its result, one row for each "
                         f"row; got {len(frame)} and {len(result)} rows")
    order = _alignment(frame, result)
    todo: npt.NDArray[np.bool_] = _goes_again(result, send_kwargs).to_numpy()[order]
    identity = bool((order == np.arange(len(order))).all())
    if not todo.any():
        return result if identity else result.iloc[order]
    again = send_frame(frame.iloc[np.flatnonzero(todo)], **send_kwargs)
    # concat lets the columns' types meet (a time column of one resolution and one of another)
    combined = pd.concat([result.iloc[order[~todo]], again])
    combined = combined.iloc[np.argsort(np.concatenate([np.flatnonzero(~todo),
                                                        np.flatnonzero(todo)]), kind="stable")]
    combined.index = frame.index
    if isinstance(result, CampaignResult):
        combined = CampaignResult(combined)
        for name in CampaignResult._metadata:
            setattr(combined, name, getattr(result, name, None))
    return combined
