"""The dry run: a frame planned in slices, its templates fetched once, every problem a row.

:func:`validate_frame` returns one row per problem (input index, field, rule, severity,
message, service code); :func:`preview_frame` shows the first rows as they will arrive. The
campaign runner (:mod:`.campaign`) plans and checks with the same pieces
(:func:`plan_chunks`, :func:`afetch_templates`, :func:`problem_rows`), so a send refuses exactly
what the dry run reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from ..client import Client
from ..templates import Template, TemplateCatalogue, template_type
from .plan import FrameMapping, RowPlan, TemplateRef, check_plans, plan_rows, template_requests

__all__ = ["PLAN_SLICE", "PROBLEM_COLUMNS", "InvalidFrameError", "afetch_templates",
           "fetch_templates", "plan_chunks", "preview_frame", "problem_rows", "problems_frame",
           "validate_frame", "window_check"]

PROBLEM_COLUMNS = ["index", "field", "rule", "severity", "message", "code"]
PLAN_SLICE = 20_000
"""Rows planned (validated, keyed) at a time."""


class InvalidFrameError(ValueError):
    """The frame has invalid rows; ``.problems`` lists them.

    Nothing was sent, except with chunked input, where the chunks before the one with the
    invalid rows may have been: ``.sent`` says how many rows (the journal keeps them from
    being sent again when the campaign is run once more).
    """

    def __init__(self, problems: pd.DataFrame, sent: int = 0) -> None:
        errors = problems[problems["severity"] == "error"]
        rows = errors["index"].nunique()
        lines = [f"  row {r['index']!r}: {r['field']}: {r['message']} [{r['rule']}]"
                 for r in errors.head(5).to_dict("records")]
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        what = "so nothing was sent" if not sent else (
            f"so the campaign stopped there; {sent} row(s) of the chunks before were sent, and "
            "the journal keeps them from being sent again")
        super().__init__(f"{rows} row(s) are invalid, {what}. Fix them, or pass "
                         "on_invalid='skip' to send the valid rows only:\n"
                         + "\n".join(lines) + more)
        self.problems = problems
        self.sent = sent

def _chunks(source: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        yield source
        return
    if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
        raise TypeError("expected a DataFrame or an iterable of DataFrames, "
                        f"not {type(source).__name__}")
    for chunk in source:
        if not isinstance(chunk, pd.DataFrame):
            raise TypeError(f"every chunk must be a DataFrame, not {type(chunk).__name__}")
        yield chunk


def plan_chunks(source: pd.DataFrame | Iterable[pd.DataFrame], constants: Mapping[str, Any],
                 params: Sequence[str] | Mapping[str, str] | None, key: str | None,
                 campaign: str | None
                 ) -> tuple[str, Iterator[list[RowPlan]], list[Hashable], FrameMapping]:
    chunks = _chunks(source)
    first = next(chunks, None)
    columns = list(first.columns) if first is not None else []
    mapping = FrameMapping(columns, constants, params, key)
    campaign_id = hashlib.sha256(f"{campaign}|{mapping.signature}".encode()).hexdigest()[:10] \
        if campaign is None or len(campaign) > 24 else campaign

    keys_seen: dict[str, Hashable] = {}

    def plans() -> Iterator[list[RowPlan]]:
        if first is None:
            return
        for chunk in _chain(first, chunks):
            if list(chunk.columns) != columns:
                raise ValueError("every chunk must have the same columns as the first one")
            # Planned in slices, so a dry run over millions of rows holds one slice at a time.
            for start in range(0, max(len(chunk), 1), PLAN_SLICE):
                piece = chunk.iloc[start:start + PLAN_SLICE]
                rows = ((row[0], row[1:]) for row in piece.itertuples(index=True, name=None))
                yield list(plan_rows(rows, mapping, campaign_id, keys_seen))

    names: list[Hashable] = list(first.index.names) if first is not None else [None]
    return campaign_id, plans(), names, mapping


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def fetch_templates(catalogue: TemplateCatalogue,
                    plans: Sequence[RowPlan]) -> dict[TemplateRef, Template | None]:
    """The templates a batch of plans uses (None: no such template), from the catalogue,
    which fetches each once."""
    return {ref: catalogue.get(ref[0], ref[1], template_type(ref[2]))
            for ref in template_requests(plans)}


async def afetch_templates(catalogue: TemplateCatalogue,
                           plans: Sequence[RowPlan]) -> dict[TemplateRef, Template | None]:
    """The asyncio twin of :func:`fetch_templates`."""
    return {ref: await catalogue.aget(ref[0], ref[1], template_type(ref[2]))
            for ref in template_requests(plans)}


def window_check(inbound: Any) -> Callable[[str], bool | None]:
    """``number -> is its WhatsApp 24-hour window open`` (None: not known) from ``inbound``.

    ``inbound`` is what knows who wrote in: anything with ``window_open(number)`` (a
    :class:`~cams_notebook.receipts.ReceiptStore` fed from the ChatAppInbound queue, for
    the service and the sandbox alike), a function of the number, or None (not known).
    """
    if inbound is None:
        return lambda number: None
    if callable(getattr(inbound, "window_open", None)):
        return inbound.window_open  # type: ignore[no-any-return]
    if callable(inbound):
        return inbound  # type: ignore[no-any-return]
    raise TypeError("inbound must have a window_open(number) method (a ReceiptStore) or be a "
                    f"function of the number, not {type(inbound).__name__}")


def problem_rows(plans: Iterable[RowPlan]) -> list[dict[str, Any]]:
    rows = []
    for plan in plans:
        for severity, items in (("error", plan.problems), ("warning", plan.warnings)):
            rows += [{"index": plan.index, "field": p.field, "rule": p.rule, "severity": severity,
                      "message": p.message, "code": p.code} for p in items]
    return rows


def problems_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def validate_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: Client | None = None,
                   params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                   inbound: Any = None, **constants: Any) -> pd.DataFrame:
    """The dry run: one row per problem (index, field, rule, severity, message, code).

    With a ``client`` the templates are fetched (once each) and every row's variables are
    checked against them. Errors block a send; warnings (duplicate recipients, a WhatsApp
    24-hour window that is closed, or not known to be open) do not. ``inbound`` tells who
    wrote in lately (a :class:`~cams_notebook.receipts.ReceiptStore` fed from the inbound
    queue, or a function ``number -> bool``): see :func:`window_check`.
    """
    _, chunks, _, _ = plan_chunks(frame, constants, params, key, None)
    window = window_check(inbound)
    catalogue = TemplateCatalogue(client) if client is not None else None
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], Hashable] = {}
    for plans in chunks:
        templates = fetch_templates(catalogue, plans) if catalogue is not None else None
        check_plans(plans, templates, window, seen)
        rows += problem_rows(plans)
    return problems_frame(rows)


def preview_frame(frame: pd.DataFrame, n: int = 5, *, client: Client | None = None,
                  params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                  **constants: Any) -> pd.DataFrame:
    """The first ``n`` rows as they will arrive: recipient, kind, and the text with variables
    filled.

    ``key`` is accepted (and checked) as ``send_frame`` takes it, so one set of campaign
    arguments serves the dry run, the preview and the send."""
    _, chunks, _, _ = plan_chunks(frame.head(n), constants, params, key, None)
    plans = [p for chunk in chunks for p in chunk]
    found = fetch_templates(TemplateCatalogue(client), plans) if client is not None else {}
    out = []
    for plan in plans:
        message = plan.message
        if message is None:
            out.append({"index": plan.index, "to": plan.fields.get("to"),
                        "channel": plan.fields.get("channel_type"), "kind": "invalid",
                        "text": "; ".join(str(p) for p in plan.problems)})
            continue
        if message.type == "template":
            ref = (message.template_code or message.template_name or "", message.language or "",
                   message.channel_type)
            template = found.get(ref)
            text = template.render(message.template_params).body if template else \
                f"[template {ref[0]} ({ref[1]})] {message.template_params or {}}"
            kind = f"template {template.name if template else ref[0]}"
        else:
            wire = (message.content.to_wire() if hasattr(message.content, "to_wire")
                    else message.content)
            text = wire.get("text") or wire.get("link") or str(wire) if isinstance(wire, dict) \
                else str(wire)
            kind = str(message.message_type)
        out.append({"index": plan.index, "to": message.to, "channel": message.channel_type,
                    "kind": kind, "text": text})
    return pd.DataFrame(out, columns=["index", "to", "channel", "kind", "text"]).set_index("index")


# -- sending -----------------------------------------------------------------------------------
