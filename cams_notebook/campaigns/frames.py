"""Campaigns from DataFrames: ``validate_frame``, ``preview_frame``, ``send_frame``,
``asend_frame``, the ``frame.cams`` accessor, and the result DataFrame.

The dry run comes first: :func:`validate_frame` returns one row per problem (input index,
field, rule, severity, message, service code); :func:`send_frame` runs the same checks and
refuses to start on invalid rows unless told ``on_invalid="skip"``.

Sending is safe to repeat. Each row's outcome goes to a journal: ``journal="send.db"`` (a
SQLite file that survives restarts and kills), the default in-memory journal of this
campaign and account (re-running the same cell in the same kernel sends nothing twice), or
``journal=False`` (no journal: every valid row is sent, use it to resend on purpose).

A campaign has an identity: its name (``campaign="spring-sale"``, or one derived from the
message definition: the constants and which columns feed which fields), the account it is
sent from (endpoint and AccessKeyId), its CustSpaceId and a fingerprint of the definition.
The journal records it, and refuses to serve another account. A row within a campaign is
its recipient (or its ``key=`` value), never its position, so editing, re-sorting or
re-indexing the input and running again sends exactly the rows that never went out; a
recipient already sent a *different* message in this campaign is reported ``changed`` and
not sent, unless ``on_changed="send"``. See :mod:`cams_notebook.campaigns.plan` and
:mod:`cams_notebook.campaigns.journal`.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from .._config import DEFAULT_QPS
from ..client import AsyncClient, Client
from ..errors import CamsError
from ..templates import Template
from .engine import CampaignEngine, Counts, run_in_thread
from .journal import (
    SANDBOX_ENDPOINT,
    CampaignIdentity,
    Journal,
    JournalBusyError,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)
from .plan import FrameMapping, RowPlan, TemplateRef, check_plans, plan_rows, template_requests

__all__ = ["CampaignResult", "InvalidFrameError", "asend_frame", "preview_frame", "send_frame",
           "session_journal", "validate_frame"]

RESULT_COLUMNS = ["status", "message_id", "code", "message", "request_id", "attempts",
                  "latency_ms", "sent_at", "error", "to", "task_id", "key"]
PROBLEM_COLUMNS = ["index", "field", "rule", "severity", "message", "code"]
STATUSES = ("sent", "failed", "invalid", "unknown", "not_sent", "changed", "skipped")
_SESSION_JOURNALS: dict[tuple[str, str, str], MemoryJournal] = {}
"""The default in-memory journals of this process, by (endpoint, AccessKeyId, campaign)."""
_RUNNING: set[int] = set()
"""ids of the journals a run in this process is using right now."""
_RUNNING_LOCK = threading.Lock()
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
                         f"on_invalid='skip' to send the valid rows only:\n" + "\n".join(lines) + more)
        self.problems = problems
        self.sent = sent


class CampaignResult(pd.DataFrame):
    """The outcome of a campaign, one row per input row, indexed like the input.

    A normal DataFrame (filter, join, plot it); its HTML display leads with the summary.
    """

    _metadata = ["campaign", "account"]

    @property
    def _constructor(self) -> type[CampaignResult]:
        return CampaignResult

    def summary(self) -> pd.DataFrame:
        """Counts by status and service code."""
        return summarise(self)

    def _repr_html_(self) -> str | None:
        table: str | None = super()._repr_html_()
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


def _chunks(source: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        yield source
        return
    if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
        raise TypeError(f"expected a DataFrame or an iterable of DataFrames, not {type(source).__name__}")
    for chunk in source:
        if not isinstance(chunk, pd.DataFrame):
            raise TypeError(f"every chunk must be a DataFrame, not {type(chunk).__name__}")
        yield chunk


def _plan_chunks(source: pd.DataFrame | Iterable[pd.DataFrame], constants: Mapping[str, Any],
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

    names = list(first.index.names) if first is not None else [None]
    return campaign_id, plans(), names, mapping


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


class _TemplateCache:
    """Templates fetched once per (code or name, language, channel) for one campaign."""

    def __init__(self) -> None:
        self.found: dict[TemplateRef, Template | None] = {}

    def missing(self, plans: Sequence[RowPlan]) -> set[TemplateRef]:
        return template_requests(plans) - set(self.found)

    @staticmethod
    def _args(ref: TemplateRef) -> dict[str, Any]:
        code, language, channel = ref
        kind = "VIBER" if channel == "viber" else "WHATSAPP"
        key = "code" if code.isdigit() else "name"
        return {key: code, "language": language, "template_type": kind}

    def fetch(self, client: Client, plans: Sequence[RowPlan]) -> None:
        for ref in self.missing(plans):
            self.found[ref] = self._lookup(lambda ref=ref: client.get_template(**self._args(ref)))

    async def afetch(self, client: AsyncClient, plans: Sequence[RowPlan]) -> None:
        for ref in self.missing(plans):
            try:
                self.found[ref] = await client.get_template(**self._args(ref))
            except CamsError as error:
                self.found[ref] = self._absent(error)

    def _lookup(self, call: Any) -> Template | None:
        try:
            return call()  # type: ignore[no-any-return]
        except CamsError as error:
            return self._absent(error)

    @staticmethod
    def _absent(error: CamsError) -> None:
        if getattr(error, "code", "") in ("DetailError.TemplateNotExist",
                                          "InvalidParameter.TemplateNotExist"):
            return
        raise error


def _window_check(client: Client | AsyncClient | None) -> Any:
    sandbox = getattr(client, "sandbox", None)
    if sandbox is not None:
        return lambda number: sandbox.core.window_open(number)
    return lambda number: None


def _problem_rows(plans: Iterable[RowPlan]) -> list[dict[str, Any]]:
    rows = []
    for plan in plans:
        for severity, items in (("error", plan.problems), ("warning", plan.warnings)):
            rows += [{"index": plan.index, "field": p.field, "rule": p.rule, "severity": severity,
                      "message": p.message, "code": p.code} for p in items]
    return rows


def _problems_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def validate_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: Client | None = None,
                   params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                   **constants: Any) -> pd.DataFrame:
    """The dry run: one row per problem (index, field, rule, severity, message, code).

    With a ``client`` the templates are fetched (once each) and every row's variables are
    checked against them. Errors block a send; warnings (duplicate recipients, a WhatsApp
    24-hour window that may be closed) do not.
    """
    _, chunks, _, _ = _plan_chunks(frame, constants, params, key, None)
    cache, rows = _TemplateCache(), []
    seen: dict[tuple[str, str], Hashable] = {}
    for plans in chunks:
        if client is not None:
            cache.fetch(client, plans)
        check_plans(plans, cache.found if client is not None else None, _window_check(client), seen)
        rows += _problem_rows(plans)
    return _problems_frame(rows)


def preview_frame(frame: pd.DataFrame, n: int = 5, *, client: Client | None = None,
                  params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                  **constants: Any) -> pd.DataFrame:
    """The first ``n`` rows as they will arrive: recipient, kind, and the text with variables filled.

    ``key`` is accepted (and checked) as ``send_frame`` takes it, so one set of campaign
    arguments serves the dry run, the preview and the send."""
    _, chunks, _, _ = _plan_chunks(frame.head(n), constants, params, key, None)
    plans = [p for chunk in chunks for p in chunk]
    cache = _TemplateCache()
    if client is not None:
        cache.fetch(client, plans)
    out = []
    for plan in plans:
        message = plan.message
        if message is None:
            out.append({"index": plan.index, "to": plan.fields.get("to"), "channel": plan.fields.get(
                "channel_type"), "kind": "invalid",
                "text": "; ".join(str(p) for p in plan.problems)})
            continue
        if message.type == "template":
            ref = (message.template_code or message.template_name or "", message.language or "",
                   message.channel_type)
            template = cache.found.get(ref)
            text = template.render(message.template_params).body if template else \
                f"[template {ref[0]} ({ref[1]})] {message.template_params or {}}"
            kind = f"template {template.name if template else ref[0]}"
        else:
            wire = message.content.to_wire() if hasattr(message.content, "to_wire") else message.content
            text = wire.get("text") or wire.get("link") or str(wire) if isinstance(wire, dict) \
                else str(wire)
            kind = str(message.message_type)
        out.append({"index": plan.index, "to": message.to, "channel": message.channel_type,
                    "kind": kind, "text": text})
    return pd.DataFrame(out, columns=["index", "to", "channel", "kind", "text"]).set_index("index")


# -- sending -----------------------------------------------------------------------------------


def _account(client: Any) -> tuple[str, str]:
    """(endpoint, AccessKeyId) of the account ``client`` sends from; never the secret."""
    account = getattr(client, "account", None)
    if account is not None:
        return (str(account[0]), str(account[1]))
    endpoint = SANDBOX_ENDPOINT if getattr(client, "sandbox", None) is not None else \
        str(getattr(client, "base_url", ""))
    return (endpoint, str(getattr(client, "access_key_id", "")))


def _ledger(journal: Any, identity: CampaignIdentity) -> Journal:
    if journal is None:
        return _SESSION_JOURNALS.setdefault(
            (identity.endpoint, identity.access_key_id, identity.campaign), MemoryJournal())
    if journal is False:
        return MemoryJournal()
    if isinstance(journal, Journal):
        return journal
    return SqliteJournal(journal)


def session_journal(result: pd.DataFrame) -> Journal | None:
    """The default in-memory journal that wrote ``result`` (a :class:`CampaignResult`), if any."""
    campaign, account = getattr(result, "campaign", None), getattr(result, "account", None)
    if not campaign or not account:
        return None
    return _SESSION_JOURNALS.get((account[0], account[1], campaign))


class _InUse:
    """One run at a time per journal in this process (another process is kept out by the
    journal file's own lock): two cells sending with one journal would each send every row."""

    def __init__(self, ledger: Journal, where: str) -> None:
        self.ledger, self.where = ledger, where

    def __enter__(self) -> None:
        with _RUNNING_LOCK:
            if id(self.ledger) in _RUNNING:
                raise JournalBusyError(self.where, {
                    "pid": f"{os.getpid()} (this process: another campaign run)",
                    "host": socket.gethostname(), "since": "now"})
            _RUNNING.add(id(self.ledger))

    def __exit__(self, *exc: object) -> None:
        with _RUNNING_LOCK:
            _RUNNING.discard(id(self.ledger))


class _Progress:
    """tqdm.auto bar (a widget in Jupyter, text in a terminal), updated at most 5 times a second."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.bar = None
        self._last = 0.0
        self._done = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="sending", unit="msg", dynamic_ncols=True)

    def __call__(self, counts: Counts) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and counts.done != self.bar.total:
            return
        self._last = now
        self.bar.update(counts.done - self._done)
        self._done = counts.done
        self.bar.set_postfix(sent=counts.sent, failed=counts.failed, unknown=counts.unknown,
                             throttled=counts.throttled, rate=f"{counts.rate(now):.0f}/s",
                             refresh=False)

    def close(self, counts: Counts) -> None:
        if self.bar is not None:
            self._last = 0.0
            self(counts)
            self.bar.close()


def _announce(text: str) -> None:
    print(text, file=sys.stderr)


def _prepare(frame: Any, client: Any, constants: Mapping[str, Any], params: Any, key: Any,
             campaign: str | None, on_invalid: str
             ) -> tuple[str, Iterator[list[RowPlan]], list[Hashable], FrameMapping]:
    if on_invalid not in ("raise", "skip"):
        raise ValueError("on_invalid must be 'raise' or 'skip'")
    if client is None:
        raise TypeError("send_frame needs client=: Client.from_env() (the real service), "
                        "Client.sandbox() (the local sandbox) or Client(...)")
    return _plan_chunks(frame, constants, params, key, campaign)


def _result_frame(order: list[tuple[Hashable, str, JournalRow | None]],
                  rows: Mapping[str, tuple[Hashable, JournalRow]], campaign_id: str,
                  account: tuple[str, str], index_names: list[Hashable] | None = None
                  ) -> CampaignResult:
    records, index = [], []
    for idx, key, invalid in order:
        row = invalid or (rows[key][1] if key in rows else JournalRow(key=key, status="not_sent"))
        records.append({c: getattr(row, c) for c in RESULT_COLUMNS})
        index.append(idx)
    names = index_names or [None]
    if len(names) > 1:
        labels = pd.MultiIndex.from_tuples(index, names=names) if index else \
            pd.MultiIndex.from_arrays([[]] * len(names), names=names)
    else:
        labels = pd.Index(index, name=names[0], tupleize_cols=False)
    result = CampaignResult(records, index=labels, columns=RESULT_COLUMNS)
    result["sent_at"] = pd.to_datetime(result["sent_at"], utc=True, format="ISO8601")
    result["attempts"] = result["attempts"].fillna(0).astype("int64")
    result["latency_ms"] = result["latency_ms"].astype("float64")
    result.campaign = campaign_id
    result.account = account
    return result


def _summary_line(plans: list[RowPlan], qps: int, identity: CampaignIdentity) -> str:
    valid = [p for p in plans if p.valid]
    channels = pd.Series([p.message.channel_type for p in valid if p.message]).value_counts()
    per = ", ".join(f"{n} {c}" for c, n in channels.items()) or "none"
    seconds = len(valid) / (qps / 1.025) if qps else 0.0
    return (f"campaign {identity.name!r}: {len(plans)} rows, {len(valid)} valid ({per}), "
            f"{len(plans) - len(valid)} invalid; about {seconds:.0f} s at {qps}/s")


def _identity(campaign_id: str, campaign: str | None, client: Any, mapping: FrameMapping,
              constants: Mapping[str, Any]) -> CampaignIdentity:
    endpoint, key_id = _account(client)
    space = constants.get("cust_space_id", constants.get("CustSpaceId"))
    return CampaignIdentity(campaign=campaign_id, name=campaign or campaign_id, endpoint=endpoint,
                            access_key_id=key_id, fingerprint=mapping.signature,
                            cust_space_id=None if space is None else str(space))


async def _run(frame: Any, client: AsyncClient, *, qps: int, journal: Any, progress: bool,
               on_invalid: str, params: Any, key: Any, campaign: str | None,
               concurrency: int | None, constants: Mapping[str, Any], on_changed: str = "skip",
               engine_box: dict[str, Any] | None = None) -> CampaignResult:
    if on_changed not in ("skip", "send"):
        raise ValueError("on_changed must be 'skip' (report the row as 'changed') or 'send'")
    campaign_id, chunks, index_names, mapping = _prepare(frame, client, constants, params, key,
                                                         campaign, on_invalid)
    identity = _identity(campaign_id, campaign, client, mapping, constants)
    cache = _TemplateCache()
    seen: dict[tuple[str, str], Hashable] = {}
    is_frame = isinstance(frame, pd.DataFrame)
    order: list[tuple[Hashable, str, JournalRow | None]] = []

    async def checked(plans: list[RowPlan]) -> list[RowPlan]:
        await cache.afetch(client, plans)
        check_plans(plans, cache.found, _window_check(client), seen)
        bad = _problem_rows(p for p in plans if p.problems)
        if bad and on_invalid == "raise":
            raise InvalidFrameError(_problems_frame(_problem_rows(plans)))
        for plan in plans:
            invalid = None
            if not plan.valid:
                to = plan.fields.get("to")
                invalid = JournalRow(key=plan.key, status="invalid", to=None if to is None else str(to),
                                    error="; ".join(str(p) for p in plan.problems))
            order.append((plan.index, plan.key, invalid))
        return plans

    first: list[list[RowPlan]] = []
    if is_frame:  # the whole frame is checked before anything is sent
        first = [await checked(p) for p in chunks]
    ledger = _ledger(journal, identity)
    owned = not isinstance(journal, Journal) and journal not in (None, False)
    try:
        with _InUse(ledger, str(journal) if owned else "(this campaign's journal)"):
            ledger.bind(identity)
            return await _send(frame, client, identity, ledger, first, chunks, checked, order,
                               index_names, qps=qps, progress=progress, concurrency=concurrency,
                               on_changed=on_changed, engine_box=engine_box)
    finally:
        if owned:
            ledger.close()


async def _send(frame: Any, client: AsyncClient, identity: CampaignIdentity, ledger: Journal,
                first: list[list[RowPlan]], chunks: Iterator[list[RowPlan]], checked: Any,
                order: list[tuple[Hashable, str, JournalRow | None]],
                index_names: list[Hashable], *, qps: int, progress: bool,
                concurrency: int | None, on_changed: str,
                engine_box: dict[str, Any] | None) -> CampaignResult:
    is_frame = isinstance(frame, pd.DataFrame)
    total = sum(p.valid for c in first for p in c) if is_frame else None
    if progress and is_frame:
        _announce(_summary_line([p for c in first for p in c], qps, identity))
    bar = _Progress(total, progress)
    engine = CampaignEngine(client, qps=qps, ledger=ledger, concurrency=concurrency,
                            on_progress=bar, campaign=identity.campaign, on_changed=on_changed)
    if engine_box is not None:
        engine_box["engine"] = engine
        if engine_box.get("interrupted"):  # Ctrl-C came during the dry run: send nothing
            engine.stop()

    async def stream() -> Any:
        for plans in first:
            yield plans
        if not is_frame:
            for plans in chunks:
                yield await checked(plans)

    try:
        # chunks are checked as the engine pulls them, so memory stays bounded by a chunk or two
        results = await engine.run(first if is_frame else stream())
    except InvalidFrameError as error:  # a later chunk: say what the earlier ones did
        if not engine.counts.sent:
            raise
        raise InvalidFrameError(error.problems, sent=engine.counts.sent) from None
    finally:
        bar.close(engine.counts)
    if engine.counts.skipped and progress:
        _announce(f"{engine.counts.skipped} row(s) were already in this campaign's journal and were "
                  "not sent again (pass journal=False to send them anyway).")
    if engine.counts.changed and progress:
        _announce(f"{engine.counts.changed} row(s) were already sent in this campaign with a "
                  "different message and were not sent again (status 'changed'; pass "
                  "on_changed='send' to send the new version).")
    if engine.stop_reason is not None:
        _announce(f"campaign stopped early: {engine.stop_reason}")
    return _result_frame(order, results, identity.campaign,
                         (identity.endpoint, identity.access_key_id), index_names)


def send_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: Client | AsyncClient,
               qps: int = DEFAULT_QPS, journal: Any = None, progress: bool = True,
               on_invalid: str = "raise", params: Sequence[str] | Mapping[str, str] | None = None,
               key: str | None = None, campaign: str | None = None, concurrency: int | None = None,
               on_changed: str = "skip", **constants: Any) -> CampaignResult:
    """Send one message per row, paced at ``qps``; return one result row per input row.

    Works in a script and in a notebook cell alike (the engine runs on a private loop in a
    worker thread). Ctrl-C or a kernel interrupt stops issuing requests and returns what
    was done; the rest is ``not_sent``. Re-running with the same journal never sends a
    row twice: a row is its recipient in the campaign (or its ``key=`` value), so the input
    may be edited, re-sorted or re-indexed in between.

    ``campaign`` names the campaign (default: derived from the constants and the column
    mapping); ``on_changed`` says what to do with a recipient this campaign already sent a
    different message to: ``"skip"`` (report it ``changed``) or ``"send"`` the new version.
    A ``journal`` file is used by one run at a time and belongs to one account: another
    process gets :class:`~.ledger.JournalBusyError`, another endpoint or AccessKeyId
    :class:`~.ledger.JournalAccountError`, and nothing is sent.
    """
    async_client = client if isinstance(client, AsyncClient) else client.async_twin()
    box: dict[str, Any] = {}

    async def main() -> CampaignResult:
        try:
            return await _run(frame, async_client, qps=qps, journal=journal, progress=progress,
                              on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                              concurrency=concurrency, constants=constants, on_changed=on_changed,
                              engine_box=box)
        finally:
            if async_client is not client:
                await async_client.aclose()

    def interrupt() -> None:
        box["interrupted"] = True
        if "engine" in box:
            box["engine"].stop()

    return run_in_thread(main, interrupt)


async def asend_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: AsyncClient | Client,
                      qps: int = DEFAULT_QPS, journal: Any = None, progress: bool = True,
                      on_invalid: str = "raise",
                      params: Sequence[str] | Mapping[str, str] | None = None,
                      key: str | None = None, campaign: str | None = None,
                      concurrency: int | None = None, on_changed: str = "skip",
                      **constants: Any) -> CampaignResult:
    """``send_frame`` for async code: runs on the caller's event loop."""
    async_client = client if isinstance(client, AsyncClient) else client.async_twin()
    try:
        return await _run(frame, async_client, qps=qps, journal=journal, progress=progress,
                          on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                          concurrency=concurrency, constants=constants, on_changed=on_changed)
    finally:
        if async_client is not client:
            await async_client.aclose()


@pd.api.extensions.register_dataframe_accessor("cams")
class CamsAccessor:
    """``frame.cams``: validate, preview and send a campaign; summarise a result."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def validate(self, **kwargs: Any) -> pd.DataFrame:
        return validate_frame(self._frame, **kwargs)

    def preview(self, n: int = 5, **kwargs: Any) -> pd.DataFrame:
        return preview_frame(self._frame, n, **kwargs)

    def send(self, **kwargs: Any) -> CampaignResult:
        return send_frame(self._frame, **kwargs)

    async def asend(self, **kwargs: Any) -> CampaignResult:
        return await asend_frame(self._frame, **kwargs)

    def summary(self) -> pd.DataFrame:
        return summarise(self._frame)

    def with_receipts(self, receipts: Any, **kwargs: Any) -> pd.DataFrame:
        """The campaign result with delivery_status, delivered_at, read_at, failed_code, ... added."""
        from ..receipts.events import join_receipts

        return join_receipts(self._frame, receipts, **kwargs)
