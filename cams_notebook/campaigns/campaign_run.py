"""How a :class:`~.campaign.Campaign` runs: journal, dry run, platform checks, engine, result.

Apart from the public API (:mod:`.campaign`) so that each stays readable: this module plans
and checks the rows, opens the journal (one run at a time per journal), runs the platform's
checks before the first request (:mod:`.platform_checks`: the health gate, the unique-user
allowance, following the receipts), runs the engine and builds the result.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import pandas as pd

from ..client import AsyncClient
from ..display import notice
from ..templates import TemplateCatalogue
from .dry_run import (
    InvalidFrameError,
    afetch_templates,
    plan_chunks,
    problem_rows,
    problems_frame,
    window_check,
)
from .engine import CampaignEngine
from .journal import (
    CampaignIdentity,
    Journal,
    JournalBusyError,
    JournalRow,
    MemoryJournal,
    SqliteJournal,
)
from .layered_pacing import DEFAULT_SENDER_MPS, SenderLimits
from .plan import FrameMapping, RowPlan, check_plans
from .platform_checks import PlatformChecks
from .progress_bar import ProgressBar as _Progress
from .result import CampaignResult, result_frame
from .run_settings import RunSettings

__all__ = ["limits_for", "run_campaign", "session_journal"]

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

def _summary_line(plans: list[RowPlan], qps: int, sender_mps: SenderLimits,
                  identity: CampaignIdentity) -> str:
    valid = [p for p in plans if p.valid]
    channels = pd.Series([p.message.channel_type for p in valid if p.message]).value_counts()
    per = ", ".join(f"{n} {c}" for c, n in channels.items()) or "none"
    seconds, pace = _duration(valid, qps, sender_mps)
    return (f"campaign {identity.name!r}: {len(plans)} rows, {len(valid)} valid ({per}), "
            f"{len(plans) - len(valid)} invalid; about {seconds:.0f} s at {pace}")


def _duration(valid: list[RowPlan], qps: int, sender_mps: SenderLimits) -> tuple[float, str]:
    """About how long the rows take, and what sets the pace: the account's ``qps``, or the
    busiest WhatsApp sender's own limit (a quick estimate; the pair rate is left out)."""
    account = len(valid) / (qps / 1.025) if qps else 0.0
    per_sender = pd.Series([p.message.from_ or "" for p in valid if p.message is not None
                            and p.message.channel_type.lower() == "whatsapp"]).value_counts()
    slowest, who = 0.0, ""
    for sender, rows in per_sender.items():
        limit = (sender_mps.get(str(sender), DEFAULT_SENDER_MPS)
                 if isinstance(sender_mps, Mapping) else sender_mps)
        if limit:
            seconds = int(rows) / (limit / 1.025)
            if seconds > slowest:
                slowest, who = seconds, f"{limit}/s for sender {sender}"
    if slowest > account:
        return slowest, who
    return account, f"{qps}/s"


def _identity(campaign_id: str, campaign: str | None, client: Any, mapping: FrameMapping,
              constants: Mapping[str, Any]) -> CampaignIdentity:
    endpoint, key_id = _account(client)
    space = constants.get("cust_space_id", constants.get("CustSpaceId"))
    return CampaignIdentity(campaign=campaign_id, name=campaign or campaign_id, endpoint=endpoint,
                            access_key_id=key_id, fingerprint=mapping.signature,
                            cust_space_id=None if space is None else str(space))


async def run_campaign(run: RunSettings, client: AsyncClient,
                       engine_box: dict[str, Any] | None = None) -> CampaignResult:
    """Run ``run`` (its frame and settings) through ``client``; ``engine_box["engine"]`` is
    set to the engine once it exists (for a stop from another thread)."""
    frame, journal, on_invalid, on_changed = run.frame, run.journal, run.on_invalid, run.on_changed
    params, key, campaign, constants = run.params, run.key, run.name, run.constants
    if on_changed not in ("skip", "send"):
        raise ValueError("on_changed must be 'skip' (report the row as 'changed') or 'send'")
    campaign_id, chunks, index_names, mapping = _prepare(frame, client, constants, params, key,
                                                         campaign, on_invalid)
    identity = _identity(campaign_id, campaign, client, mapping, constants)
    catalogue, window = TemplateCatalogue(client), window_check(run.inbound)
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
            return await _send(run, client, identity, ledger, first, chunks, checked, order,
                               index_names, engine_box=engine_box, catalogue=catalogue)
    finally:
        if owned:
            ledger.close()


async def _send(run: RunSettings, client: AsyncClient, identity: CampaignIdentity, ledger: Journal,
                first: list[list[RowPlan]], chunks: Iterator[list[RowPlan]], checked: Any,
                order: list[tuple[Hashable, str, JournalRow | None]],
                index_names: list[Hashable], *, engine_box: dict[str, Any] | None,
                catalogue: TemplateCatalogue) -> CampaignResult:
    frame, qps, progress = run.frame, run.qps, run.progress
    is_frame = isinstance(frame, pd.DataFrame)
    total = sum(p.valid for c in first for p in c) if is_frame else None
    if progress and is_frame:
        _announce(_summary_line([p for c in first for p in c], qps, run.sender_mps, identity))
    checks = PlatformChecks(run, client, ledger, catalogue=catalogue,
                            announce=_announce if progress else None)
    if not (engine_box or {}).get("interrupted"):  # Ctrl-C in the dry run: ask nothing more
        await checks.before_sending([p for c in first for p in c if p.valid])  # refusals raise
    bar = _Progress(total, progress)
    engine = CampaignEngine(client, qps=qps, ledger=ledger, concurrency=run.concurrency,
                            on_progress=bar, campaign=identity.campaign,
                            on_changed=run.on_changed, sender_mps=run.sender_mps,
                            wall=run.wall, follower=checks.follower(), defer=checks.defer)
    follower = engine.follower
    if follower is not None:
        bar.waiting = lambda: follower.following
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
    result = result_frame(order, results, identity.campaign,
                          (identity.endpoint, identity.access_key_id), index_names)
    return checks.after(result, engine)




async def limits_for(run: RunSettings, client: AsyncClient) -> pd.DataFrame:
    """The plan per sender of ``run`` without sending (see :meth:`~.campaign.Campaign.limits`):
    its rows planned and checked as a send would, the journal asked who was reached and what is
    done."""
    from .platform_checks import alimits_plan

    campaign_id, chunks, _, mapping = _prepare(run.frame, client, run.constants, run.params,
                                                run.key, run.name, "skip")
    identity = _identity(campaign_id, run.name, client, mapping, run.constants)
    catalogue, window = TemplateCatalogue(client), window_check(run.inbound)
    seen: dict[tuple[str, str], Hashable] = {}
    plans: list[RowPlan] = []
    for chunk in chunks:
        check_plans(chunk, await afetch_templates(catalogue, chunk), window, seen)
        plans += [p for p in chunk if p.valid]
    ledger = _ledger(run.journal, identity)
    owned = not isinstance(run.journal, Journal) and run.journal not in (None, False)
    try:
        return await alimits_plan(run, plans, ledger, client, catalogue)
    finally:
        if owned:
            ledger.close()
