"""Running a campaign: the public :class:`Campaign`, ``send_frame`` and ``asend_frame``.

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

import os
import socket
import sys
import threading
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from .._config import DEFAULT_QPS
from ..client import AsyncClient, Client
from ..display import notice
from ..templates import TemplateCatalogue
from .dry_run import (
    InvalidFrameError,
    afetch_templates,
    plan_chunks,
    problem_rows,
    problems_frame,
    validate_frame,
    window_check,
)
from .engine import CampaignEngine, Counts, run_in_thread
from .journal import (
    CampaignIdentity,
    Journal,
    JournalBusyError,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)
from .plan import FrameMapping, RowPlan, check_plans
from .progress_bar import ProgressBar as _Progress
from .result import CampaignResult, result_frame

__all__ = ["Campaign", "asend_frame", "send_frame", "session_journal"]

_SESSION_JOURNALS: dict[tuple[str, str, str], MemoryJournal] = {}
"""The default in-memory journals of this process, by (endpoint, AccessKeyId, campaign)."""
_RUNNING: set[int] = set()
"""ids of the journals a run in this process is using right now."""
_RUNNING_LOCK = threading.Lock()

def _account(client: Any) -> tuple[str, str]:
    """(endpoint, AccessKeyId) of the account ``client`` sends from; never the secret."""
    account = getattr(client, "account", None)
    if account is not None:
        return (str(account[0]), str(account[1]))
    return (str(getattr(client, "base_url", "")), str(getattr(client, "access_key_id", "")))


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


def _announce(text: str) -> None:
    """Say what the campaign is doing: a quiet line in a notebook (it is not an error), stderr
    in a terminal, where stdout may carry a command's data."""
    notice(text, stream=sys.stderr)


def _prepare(frame: Any, client: Any, constants: Mapping[str, Any], params: Any, key: Any,
             campaign: str | None, on_invalid: str
             ) -> tuple[str, Iterator[list[RowPlan]], list[Hashable], FrameMapping]:
    if on_invalid not in ("raise", "skip"):
        raise ValueError("on_invalid must be 'raise' or 'skip'")
    if client is None:
        raise TypeError("send_frame needs client=: Client.from_env() (the real service), "
                        "Client.sandbox() (the local sandbox) or Client(...)")
    return plan_chunks(frame, constants, params, key, campaign)

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
               inbound: Any = None, engine_box: dict[str, Any] | None = None) -> CampaignResult:
    if on_changed not in ("skip", "send"):
        raise ValueError("on_changed must be 'skip' (report the row as 'changed') or 'send'")
    campaign_id, chunks, index_names, mapping = _prepare(frame, client, constants, params, key,
                                                         campaign, on_invalid)
    identity = _identity(campaign_id, campaign, client, mapping, constants)
    catalogue, window = TemplateCatalogue(client), window_check(inbound)
    seen: dict[tuple[str, str], Hashable] = {}
    is_frame = isinstance(frame, pd.DataFrame)
    order: list[tuple[Hashable, str, JournalRow | None]] = []

    async def checked(plans: list[RowPlan]) -> list[RowPlan]:
        check_plans(plans, await afetch_templates(catalogue, plans), window, seen)
        bad = problem_rows(p for p in plans if p.problems)
        if bad and on_invalid == "raise":
            raise InvalidFrameError(problems_frame(problem_rows(plans)))
        for plan in plans:
            invalid = None
            if not plan.valid:
                to = plan.fields.get("to")
                invalid = JournalRow(key=plan.key, status="invalid",
                                     to=None if to is None else str(to),
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
        _announce(f"{engine.counts.skipped} row(s) were already in this campaign's journal and "
                  "were not sent again (pass journal=False to send them anyway).")
    if engine.counts.changed and progress:
        _announce(f"{engine.counts.changed} row(s) were already sent in this campaign with a "
                  "different message and were not sent again (status 'changed'; pass "
                  "on_changed='send' to send the new version).")
    if engine.stop_reason is not None:
        _announce(f"campaign stopped early: {engine.stop_reason}")
    return result_frame(order, results, identity.campaign,
                         (identity.endpoint, identity.access_key_id), index_names)


class Campaign:
    """One campaign, from its input to its result: plan, run, stop, and watch it while it runs.

    What to send (a frame, or an iterable of chunks, and the request fields as keyword
    constants, ``params`` and ``key``), from where (``client``) and how (``qps``, ``journal``,
    ``on_invalid``, ``on_changed``, ``campaign``, ``concurrency``, ``inbound``: who wrote in
    lately, for the 24-hour window check) are given once, as to
    :func:`send_frame`, which is ``Campaign(...).run()``. :meth:`stop` is thread-safe and may
    come before the run starts (the run then sends nothing); while it runs, :attr:`engine`
    and :attr:`counts` show its progress; afterwards :attr:`result` holds what it did.

    >>> campaign = Campaign(frame, client=client, journal="send.db", **fields)  # doctest: +SKIP
    >>> campaign.validate()          # the dry run: one row per problem       # doctest: +SKIP
    >>> result = campaign.run()      # Ctrl-C stops it and keeps what was done  # doctest: +SKIP
    """

    def __init__(self, frame: pd.DataFrame | Iterable[pd.DataFrame], *,
                 client: Client | AsyncClient, qps: int = DEFAULT_QPS, journal: Any = None,
                 progress: bool = True, on_invalid: str = "raise", on_changed: str = "skip",
                 params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                 campaign: str | None = None, concurrency: int | None = None,
                 inbound: Any = None, **constants: Any) -> None:
        self.frame, self.client, self.qps, self.journal = frame, client, qps, journal
        self.inbound = inbound
        self.progress, self.on_invalid, self.on_changed = progress, on_invalid, on_changed
        self.params, self.key, self.name, self.concurrency = params, key, campaign, concurrency
        self.constants = constants
        self.result: CampaignResult | None = None
        """What the last run did: one row per input row (None before a run has ended)."""
        self._box: dict[str, Any] = {}

    def __repr__(self) -> str:
        state = "done" if self.result is not None else "running" if self.engine else "ready"
        return f"Campaign(name={self.name!r}, state={state!r})"

    @property
    def engine(self) -> CampaignEngine | None:
        """The engine of the running (or last) run; None before a run has started sending."""
        engine: CampaignEngine | None = self._box.get("engine")
        return engine

    @property
    def counts(self) -> Counts | None:
        """Live tallies of the running (or last) run: sent, failed, unknown, throttled, ..."""
        return self.engine.counts if self.engine is not None else None

    def stop(self) -> None:
        """Stop issuing requests; in-flight ones finish, the rest is ``not_sent``. Thread-safe."""
        self._box["interrupted"] = True
        if self.engine is not None:
            self.engine.stop()

    def validate(self) -> pd.DataFrame:
        """The dry run of this campaign (:func:`validate_frame` with its arguments)."""
        client = self.client if isinstance(self.client, Client) else None
        return validate_frame(self.frame, client=client, params=self.params, key=self.key,
                              inbound=self.inbound, **self.constants)

    async def arun(self) -> CampaignResult:
        """Run on the caller's event loop (what ``await asend_frame(...)`` does)."""
        client = self.client
        async_client = client if isinstance(client, AsyncClient) else client.async_twin()
        self._box = {"interrupted": True} if self._box.get("interrupted") else {}
        try:
            self.result = await _run(
                self.frame, async_client, qps=self.qps, journal=self.journal,
                progress=self.progress, on_invalid=self.on_invalid, params=self.params,
                key=self.key, campaign=self.name, concurrency=self.concurrency,
                constants=self.constants, on_changed=self.on_changed, inbound=self.inbound,
                engine_box=self._box)
        finally:
            self._box.pop("interrupted", None)  # a stop ends this run, not the next one
            if async_client is not client:
                await async_client.aclose()
        return self.result

    def run(self) -> CampaignResult:
        """Run and wait, in a script or a notebook cell alike (a private loop in a worker
        thread); Ctrl-C or a kernel interrupt calls :meth:`stop` and returns what was done."""
        return run_in_thread(self.arun, self.stop)


def send_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: Client | AsyncClient,
               qps: int = DEFAULT_QPS, journal: Any = None, progress: bool = True,
               on_invalid: str = "raise", params: Sequence[str] | Mapping[str, str] | None = None,
               key: str | None = None, campaign: str | None = None, concurrency: int | None = None,
               on_changed: str = "skip", inbound: Any = None, **constants: Any) -> CampaignResult:
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
    process gets :class:`~.journal.JournalBusyError`, another endpoint or AccessKeyId
    :class:`~.journal.JournalAccountError`, and nothing is sent. ``Campaign(...)`` takes the
    same arguments, for a campaign to stop or watch from elsewhere.
    """
    return Campaign(frame, client=client, qps=qps, journal=journal, progress=progress,
                    on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                    concurrency=concurrency, on_changed=on_changed, inbound=inbound,
                    **constants).run()


async def asend_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: AsyncClient | Client,
                      qps: int = DEFAULT_QPS, journal: Any = None, progress: bool = True,
                      on_invalid: str = "raise",
                      params: Sequence[str] | Mapping[str, str] | None = None,
                      key: str | None = None, campaign: str | None = None,
                      concurrency: int | None = None, on_changed: str = "skip",
                      inbound: Any = None, **constants: Any) -> CampaignResult:
    """``send_frame`` for async code: runs on the caller's event loop."""
    return await Campaign(frame, client=client, qps=qps, journal=journal, progress=progress,
                          on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                          concurrency=concurrency, on_changed=on_changed, inbound=inbound,
                          **constants).arun()
