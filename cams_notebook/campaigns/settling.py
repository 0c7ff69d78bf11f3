"""Which message is whose: the facts of one send, whether a record of the service fits them,
and the :class:`Settler` that turns receipts and listings into an outcome for each unknown row.

Apart from :mod:`.reconcile` (which gathers the rows and the journal, and writes the outcomes
back) because this is the proof itself: every rule of "what the listing proves" in that
module's docstring is here, and nothing here reads a DataFrame or writes a journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from ..client import Client
from .journal import JournalRow
from .message_listing import list_messages

__all__ = ["WINDOW_MS", "Outcome", "SendFacts", "Settler", "UnknownRow", "bare_number",
           "nonempty_text", "send_facts"]

WINDOW_MS = 16 * 60 * 1000
"""Half the listing window around an attempt: the gateway's 15-minute rule plus a minute."""
_LOOKUPS = 8
"""ListChatappMessage questions in flight at once."""
_NO_SPACE = ("no CustSpaceId: the row was sent without one and ListChatappMessage needs one; pass "
             "reconcile(cust_space_id=...) (the sandbox's is "
             "cams_notebook.sandbox.DEFAULT_CUST_SPACE_ID)")

Evidence = dict[str, dict[str, str | None]]
"""TaskId -> {MessageId: recipient number, or None when the evidence does not say}."""


class Outcome(NamedTuple):
    status: str
    """``sent``, ``not_sent`` or ``unknown``."""
    message_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class SendFacts:
    """What a query needs to find one send, and what its message must look like."""

    channel: str
    sender: str
    to: str
    space: str
    template: str | None
    start: int
    end: int

    @property
    def person(self) -> tuple[str, str, str, str]:
        return (self.channel, self.sender, self.to, self.space)


@dataclass
class UnknownRow:
    """One unknown row of the result."""

    position: int
    key: str
    to: str | None
    task_id: str | None
    message_id: str | None
    facts: SendFacts | None = None
    missing: str = ""
    candidates: set[str] = field(default_factory=set)


# -- reading values ----------------------------------------------------------------------------


def bare_number(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return (value.strip()
            .lstrip("+")  # pragma: no mutate (equivalent: lstrip("XX+XX") strips no digit either)
            .replace(" ", "").replace("-", ""))


def nonempty_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ms(value: Any) -> int | None:
    """Unix ms from Unix ms or ISO text with a zone; None when it cannot be read for sure."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        # seconds, or a number that is no time at all, read as ms would land in 1970
        return int(value) if value >= 10**11 else None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp) or stamp.tzinfo is None:  # without its zone it could be hours off
        return None
    return int(stamp.timestamp() * 1000)


def send_facts(record: JournalRow | None, space: str | None) -> SendFacts | str:
    """The query facts of one journal record, or what is missing."""
    if record is None:
        return "the journal has no record of this row (pass the journal= given to send_frame)"
    attempted = _ms(record.attempted_at)
    to = bare_number(record.to)
    lacking = [name for name, value in (("ChannelType", record.channel),
                                        ("sender", record.sender), ("recipient", to),
                                        ("attempt time", attempted)) if not value]
    if lacking:
        return f"the journal does not record this row's {', '.join(lacking)}"
    # pragma: no mutate start (equivalent: an assert for mypy; the line above returned otherwise)
    assert attempted is not None and to is not None and record.channel and record.sender
    # pragma: no mutate end
    space = record.cust_space_id or space
    if not space:
        return _NO_SPACE
    return SendFacts(record.channel.lower(),
                     bare_number(record.sender) or "",  # pragma: no mutate (From is a number)
                     to, space, record.template_code or None, attempted - WINDOW_MS,
                     attempted + WINDOW_MS)


def _fits(facts: SendFacts, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` could be the message of the send ``facts`` describe."""
    if bare_number(record.get("UserNumber")) != facts.to:
        return False
    sender, channel, action = (nonempty_text(record.get(k)) for k in
                               ("BusinessNumber", "ChannelType", "EventAction"))
    if ((sender and bare_number(sender) != facts.sender)
            or (channel and channel.lower() != facts.channel)
            or (action and action.upper() != "DOWN")):
        return False
    named = {v for v in (nonempty_text(record.get("TemplateCode")),
                         nonempty_text(record.get("TemplateName"))) if v}
    if named and (facts.template is None or facts.template not in named):
        return False  # another template's message, or a template message for a free-form row
    when = _ms(record.get("SendTime"))
    return when is None or facts.start <= when <= facts.end


# -- evidence from receipts -------------------------------------------------------------------


def _field(record: Any, *names: str) -> Any:
    for name in names:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _from_receipts(receipts: Any) -> tuple[Evidence, set[str]]:
    """(evidence by TaskId, every MessageId) from receipts in any of the shapes users hold them."""
    if receipts is None:
        return {}, set()
    if isinstance(receipts, pd.DataFrame):
        rows: Iterable[Any] = receipts.to_dict("records")  # pragma: no mutate (any case)
    elif hasattr(receipts, "to_frame"):
        rows = receipts.to_frame().to_dict("records")  # pragma: no mutate (pandas: any case)
    elif hasattr(receipts, "store") and hasattr(receipts.store, "to_frame"):
        rows = receipts.store.to_frame().to_dict("records")  # pragma: no mutate (any case)
    else:
        rows = receipts
    evidence: Evidence = {}
    ids: set[str] = set()
    for r in rows:
        message_id, task_id = _field(r, "MessageId", "message_id"), _field(r, "TaskId", "task_id")
        if message_id:
            ids.add(message_id)
            if task_id:
                evidence.setdefault(task_id, {}).setdefault(
                    message_id, bare_number(_field(r, "To", "to", "number")))
    return evidence, ids


# -- settling ----------------------------------------------------------------------------------


@dataclass
class Settler:
    """The evidence of one reconciliation, and the outcome it proves for each case."""

    client: Client
    sleep: Callable[[float], None]
    claimed: set[str]
    """MessageIds that belong to other rows: sent rows of the result, sends the journal knows."""
    rivals: list[SendFacts] = field(default_factory=list)
    """Other sends of the journal whose fate is not known: each may own a message in its window."""
    blind: set[str] = field(default_factory=set)
    """Numbers of such sends whose window is not known: every message to them is theirs too."""
    contested: set[str] = field(default_factory=set)
    """Candidates that such a send could own as well as a row of the result."""
    settled: dict[int, Outcome] = field(default_factory=dict)

    def receipts(self, cases: list[UnknownRow], receipts: Any) -> None:
        """Rows a receipt proves accepted, matched by TaskId and recipient."""
        evidence, ids = _from_receipts(receipts)
        for case in cases:
            to = bare_number(case.to)
            found = next((m for m, number in (
                evidence.get(case.task_id or "")  # pragma: no mutate (no TaskId is "" or "XXXX")
                or {}).items() if m not in self.claimed and number in (None, to)), None)
            if found is None and case.message_id in ids and case.message_id not in self.claimed:
                found = case.message_id
            if found is not None:
                self.claimed.add(found)
                self.settled[case.position] = Outcome("sent", found, "a delivery receipt shows it")

    def listings(self, cases: list[UnknownRow]) -> None:
        """Ask the service about every case with facts; keep each case's candidates."""
        queries = _queries([c for c in cases if c.facts is not None])
        if not queries:
            return
        with ThreadPoolExecutor(
                max_workers=min(_LOOKUPS, len(queries)),  # pragma: no mutate (same outcome)
                thread_name_prefix="cams-reconcile",  # pragma: no mutate (a thread's name)
        ) as pool:
            answers = list(pool.map(
                lambda q: list_messages(self.client, q[0], q[1], q[2], self.sleep), queries))
        pairs = zip(queries, answers, strict=True)  # pragma: no mutate (one answer a query)
        for (_, _, _, group), answer in pairs:
            for case in group:
                assert case.facts is not None
                if isinstance(answer, str):
                    self.settled[case.position] = Outcome("unknown", note=answer)
                    continue
                for record in answer:
                    message_id = str(record["MessageId"])
                    if message_id not in self.claimed and _fits(case.facts, record):
                        case.candidates.add(message_id)
                        if self._rivalled(record):
                            self.contested.add(message_id)

    def _rivalled(self, record: Mapping[str, Any]) -> bool:
        return bare_number(record.get("UserNumber")) in self.blind or \
            any(_fits(rival, record) for rival in self.rivals)

    def decide(self, cases: list[UnknownRow]) -> None:
        """A message goes to a row only when it is that row's only candidate and no other row's."""
        open_cases = [c for c in cases if c.facts is not None and c.position not in self.settled]
        taken: set[str] = set()
        # A message is taken only when no other open case holds it, so taking it frees nothing
        # for another case: one pass settles all there is, and a second finds nothing more.
        progress = True
        while progress:
            progress = False  # pragma: no mutate (equivalent: None is as false)
            owners: dict[str, int] = {}
            for case in open_cases:
                for message_id in case.candidates - taken:
                    owners[message_id] = owners.get(message_id, 0) + 1
            for case in open_cases:
                left = case.candidates - taken
                if case.position in self.settled or len(left) != 1:
                    continue
                (only,) = left
                if owners[only] == 1 and only not in self.contested:
                    taken.add(only)  # pragma: no mutate (equivalent: only this case held it)
                    self.settled[case.position] = Outcome("sent", only,
                                                           "ListChatappMessage lists it")
                    progress = True  # pragma: no mutate (equivalent: a 2nd pass finds no more)
        for case in open_cases:
            if case.position not in self.settled:
                self.settled[case.position] = _undecided(case.candidates - taken)


def _undecided(left: set[str]) -> Outcome:
    if not left:
        return Outcome("not_sent")
    if len(left) > 1:
        return Outcome("unknown", note=f"{len(left)} messages to this person in the window; "
                        "cannot tell which is this row's")
    return Outcome("unknown", note="1 message to this person in the window, which another "
                    "unsettled send to this person could own; cannot tell whose it is")


Query = tuple[tuple[str, str, str, str], int, int, list[UnknownRow]]
"""One listing: a person (channel, sender, recipient, space), its window, the rows it serves."""


def _queries(cases: list[UnknownRow]) -> list[Query]:
    """One listing per person and run of overlapping windows, in a fixed order."""
    by_person: dict[tuple[str, str, str, str], list[UnknownRow]] = {}
    for case in cases:
        assert case.facts is not None
        by_person.setdefault(case.facts.person, []).append(case)
    out: list[Query] = []
    for person in sorted(by_person):
        # pragma: no mutate start (unreachable else: every case here has facts)
        group = sorted(by_person[person], key=lambda c: c.facts.start if c.facts else 0)
        # pragma: no mutate end
        for case in group:
            assert case.facts is not None
            if out and out[-1][0] == person and case.facts.start <= out[-1][2]:
                _, start, end, members = out[-1]
                out[-1] = (person, start, max(end, case.facts.end), [*members, case])
            else:
                out.append((person, case.facts.start, case.facts.end, [case]))
    return out
