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

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .._config import DEFAULT_QPS
from ..client import AsyncClient, Client
from .campaign_run import limits_for, run_campaign, session_journal
from .dry_run import validate_frame
from .engine import CampaignEngine, Counts, run_in_thread
from .layered_pacing import DEFAULT_SENDER_MPS, SenderLimits
from .result import CampaignResult

__all__ = ["Campaign", "asend_frame", "send_frame", "session_journal"]

class Campaign:
    """One campaign, from its input to its result: plan, run, stop, and watch it while it runs.

    What to send (a frame, or an iterable of chunks, and the request fields as keyword
    constants, ``params`` and ``key``), from where (``client``) and how (``qps``, ``journal``,
    ``on_invalid``, ``on_changed``, ``campaign``, ``concurrency``, ``inbound``: who wrote in
    lately, for the 24-hour window check) are given once, as to :func:`send_frame`, which is
    ``Campaign(...).run()``. So are the platform's limits (see :func:`send_frame`):
    ``sender_mps``, ``health_check``, ``allowance``, ``receipts``, ``follow_for`` and
    ``wall``. :meth:`stop` is thread-safe and may come before the run starts (the run then
    sends nothing); while it runs, :attr:`engine` and :attr:`counts` show its progress;
    afterwards :attr:`result` holds what it did.

    >>> campaign = Campaign(frame, client=client, journal="send.db", **fields)  # doctest: +SKIP
    >>> campaign.validate()          # the dry run: one row per problem       # doctest: +SKIP
    >>> campaign.limits()            # the plan per sender: tier, left, later  # doctest: +SKIP
    >>> result = campaign.run()      # Ctrl-C stops it and keeps what was done  # doctest: +SKIP
    """

    def __init__(self, frame: pd.DataFrame | Iterable[pd.DataFrame], *,
                 client: Client | AsyncClient, qps: int = DEFAULT_QPS, journal: Any = None,
                 progress: bool = True, on_invalid: str = "raise", on_changed: str = "skip",
                 params: Sequence[str] | Mapping[str, str] | None = None, key: str | None = None,
                 campaign: str | None = None, concurrency: int | None = None,
                 inbound: Any = None, sender_mps: SenderLimits = DEFAULT_SENDER_MPS,
                 health_check: bool = True, allowance: bool = True, receipts: Any = None,
                 follow_for: float = 30.0, wall: Callable[[], float] = time.time,
                 **constants: Any) -> None:
        self.frame, self.client, self.qps, self.journal = frame, client, qps, journal
        self.inbound = inbound
        self.progress, self.on_invalid, self.on_changed = progress, on_invalid, on_changed
        self.params, self.key, self.name, self.concurrency = params, key, campaign, concurrency
        self.sender_mps, self.health_check, self.allowance = sender_mps, health_check, allowance
        self.receipts, self.follow_for, self.wall = receipts, follow_for, wall
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

    def limits(self) -> pd.DataFrame:
        """The platform's plan for this campaign, per sender number, without sending: its
        health and tier, the unique users it reached in the last 24 hours, how many of this
        campaign's rows go now and how many are deferred, until when (see
        :mod:`.platform_checks`)."""
        return run_in_thread(self._alimits, lambda: None)

    async def _alimits(self) -> pd.DataFrame:
        client = self.client
        async_client = client if isinstance(client, AsyncClient) else client.async_twin()
        try:
            return await limits_for(self, async_client)
        finally:
            if async_client is not client:
                await async_client.aclose()

    async def arun(self) -> CampaignResult:
        """Run on the caller's event loop (what ``await asend_frame(...)`` does)."""
        client = self.client
        async_client = client if isinstance(client, AsyncClient) else client.async_twin()
        self._box = {"interrupted": True} if self._box.get("interrupted") else {}
        try:
            self.result = await run_campaign(self, async_client, engine_box=self._box)
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
               on_changed: str = "skip", inbound: Any = None,
               sender_mps: SenderLimits = DEFAULT_SENDER_MPS, health_check: bool = True,
               allowance: bool = True, receipts: Any = None, follow_for: float = 30.0,
               wall: Callable[[], float] = time.time, **constants: Any) -> CampaignResult:
    """Send one message per row, paced within every limit that applies; return one result row
    per input row.

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

    The platform's limits (``shared/reference/platform_rules.md``):

    - ``qps``: the account's quota (all its AccessKeys and spaces together), default 250/s;
    - ``sender_mps``: each WhatsApp sender number's messages per second, default 80; a
      number, ``None`` (no limit of its own: an upgraded number) or a mapping per sender
      (``{"8613800000904": 20}`` for a coexistence number); the pair rate (one message to
      the same person about every 6 s) always holds: such a row waits, it is not refused;
    - ``health_check``: before the first request, each WhatsApp sender's status, quality and
      tier and each template's approval are checked once: a BLOCKED or disconnected number
      or a template that may not be sent stops the campaign before it starts
      (:class:`~.health_gate.HealthGateError`); LIMITED or YELLOW is a warning;
    - ``allowance``: template rows beyond a sender's unique users per 24 hours (its tier,
      minus whom it reached lately) are ``deferred`` with ``eligible_at``; a later run of
      the same campaign sends them once eligible;
    - ``receipts``: a receipt store that a running queue or receiver fills; the campaign
      then follows its rows to delivery (refusals 130429 and 131056 sent again, 131049
      ``capped`` for 24 h, bad news such as a number going RED stops it), for up to
      ``follow_for`` seconds after its last request;
    - ``wall``: the wall clock (Unix seconds) the allowance and the journal's times use.
    """
    return Campaign(frame, client=client, qps=qps, journal=journal, progress=progress,
                    on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                    concurrency=concurrency, on_changed=on_changed, inbound=inbound,
                    sender_mps=sender_mps, health_check=health_check, allowance=allowance,
                    receipts=receipts, follow_for=follow_for, wall=wall, **constants).run()


async def asend_frame(frame: pd.DataFrame | Iterable[pd.DataFrame], *, client: AsyncClient | Client,
                      qps: int = DEFAULT_QPS, journal: Any = None, progress: bool = True,
                      on_invalid: str = "raise",
                      params: Sequence[str] | Mapping[str, str] | None = None,
                      key: str | None = None, campaign: str | None = None,
                      concurrency: int | None = None, on_changed: str = "skip",
                      inbound: Any = None, sender_mps: SenderLimits = DEFAULT_SENDER_MPS,
                      health_check: bool = True, allowance: bool = True, receipts: Any = None,
                      follow_for: float = 30.0, wall: Callable[[], float] = time.time,
                      **constants: Any) -> CampaignResult:
    """``send_frame`` for async code: runs on the caller's event loop."""
    return await Campaign(frame, client=client, qps=qps, journal=journal, progress=progress,
                          on_invalid=on_invalid, params=params, key=key, campaign=campaign,
                          concurrency=concurrency, on_changed=on_changed, inbound=inbound,
                          sender_mps=sender_mps, health_check=health_check,
                          allowance=allowance, receipts=receipts, follow_for=follow_for,
                          wall=wall, **constants).arun()
