"""What ``reconcile`` concludes from a result, its journal and a ``ListChatappMessage`` listing,
rule by rule, and what it writes back to the result and the journal.

Oracle: ``cams_notebook/campaigns/reconcile.py``'s docstring (``sent`` only with exactly one
candidate no other send could own, ``not_sent`` only from a complete readable listing, else
``unknown`` saying why; the journal follows: sent rows get their outcome, not-sent rows are
forgotten; the service gets ``settle`` seconds after the latest attempt, at most that). The
result and the journal are written here by hand, as a campaign leaves them, and the listing is
an ``httpx.MockTransport`` answering in ListChatappMessage's official shape, so each rule is
checked on its own without sending a campaign first (``test_reconcile.py`` does that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cams_notebook import Client
from cams_notebook.campaigns.frames import RESULT_COLUMNS
from cams_notebook.campaigns.journal import INTENT, JournalRow, MemoryJournal, SqliteJournal
from cams_notebook.campaigns.reconcile import WINDOW_MS, reconcile

SENDER, SPACE, TEMPLATE = "8613800000000", "space-1", "830174529611842305"
TO, OTHER = "8613900000000", "8613900000001"
AT_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z, when each row's attempt began
AT = "2026-01-01T00:00:00.000+00:00"
LISTED = "reconciled: the service accepted it (ListChatappMessage lists it)"
ABSENT = "reconciled: the service has no record of it; safe to resend"
COULD_OWN = ("unknown after reconciling: 1 message to this person in the window, which another "
             "unsettled send to this person could own; cannot tell whose it is")


def row(key: str, status: str = "unknown", to: str = TO, **values: Any) -> dict[str, Any]:
    """One row of a send_frame result."""
    return {**dict.fromkeys(RESULT_COLUMNS), "status": status, "to": to, "key": key,
            "task_id": f"task-{key}", **values}


def result(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=RESULT_COLUMNS)


def record(key: str, to: str = TO, status: str = INTENT, **values: Any) -> JournalRow:
    """A journal record as the engine writes it with the intent."""
    fields: dict[str, Any] = dict(to=to, channel="whatsapp", sender=SENDER, cust_space_id=SPACE,
                                  template_code=TEMPLATE, attempted_at=AT, attempts=1)
    return JournalRow(key=key, status=status, **{**fields, **values})


def journal(*records: JournalRow) -> MemoryJournal:
    ledger = MemoryJournal()
    for r in records:
        ledger.outcome(r)
    return ledger


def listed(message_id: str, to: str = TO, **values: Any) -> dict[str, Any]:
    return {"MessageId": message_id, "UserNumber": to, "BusinessNumber": SENDER,
            "ChannelType": "whatsapp", "EventAction": "DOWN", "TemplateCode": TEMPLATE,
            "SendTime": AT, **values}


def service(*records: dict[str, Any]) -> Client:
    """A client whose ListChatappMessage lists ``records`` to the person asked about."""

    def handle(request: httpx.Request) -> httpx.Response:
        to = request.url.params["UserNumber"]
        data = [r for r in records if r["UserNumber"] == to]
        return httpx.Response(200, json={"RequestId": "r", "Code": "OK", "Data": data})

    return Client(access_key_id="k", access_key_secret="s", transport=httpx.MockTransport(handle))


# -- what the listing proves, and what is written back -----------------------------------------


def test_one_fitting_record_settles_the_row_sent_and_the_journal_follows() -> None:
    ledger = journal(record("k0"))
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger, settle=0)
    assert out.loc[0, ["status", "message_id", "code", "error"]].tolist() == \
        ["sent", "m-1", "OK", LISTED]
    kept = ledger.get_many(["k0"])["k0"]
    assert (kept.status, kept.message_id, kept.code, kept.error) == ("sent", "m-1", "OK", LISTED)
    assert (kept.attempted_at, kept.attempts) == (AT, 1)  # the rest of the record is kept


def test_a_complete_empty_listing_makes_the_row_not_sent_and_the_journal_forgets_it() -> None:
    ledger = journal(record("k0"), record("k1", to=OTHER))
    out = reconcile(result(row("k0", code="Timeout"), row("k1", to=OTHER)),
                    client=service(listed("m-1", to=OTHER)), journal=ledger, settle=0)
    assert out.loc[0, ["status", "message_id", "code", "error"]].tolist() == \
        ["not_sent", None, "Timeout", ABSENT]
    assert out.loc[1, "status"] == "sent"
    assert list(ledger.get_many(["k0", "k1"])) == ["k1"]


def test_every_row_proven_absent_is_forgotten_by_the_journal() -> None:
    ledger = journal(record("k0"), record("k1"), record("k2", to=OTHER))
    out = reconcile(result(row("k0"), row("k1"), row("k2", to=OTHER)), client=service(),
                    journal=ledger, settle=0)
    assert out["status"].tolist() == ["not_sent"] * 3
    assert ledger.rows() == []  # a re-run sends each of them


def test_a_row_left_unknown_says_why_and_stays_in_the_journal() -> None:
    ledger = journal(record("k0"))
    out = reconcile(result(row("k0")), client=service(listed("m-1"), listed("m-2")),
                    journal=ledger, settle=0)
    assert out.loc[0, ["status", "message_id"]].tolist() == ["unknown", None]
    assert out.loc[0, "error"] == ("unknown after reconciling: 2 messages to this person in the "
                                   "window; cannot tell which is this row's")
    assert ledger.get_many(["k0"])["k0"].status == INTENT


def test_other_rows_and_columns_of_the_result_are_left_as_they_are() -> None:
    given = result(row("k0"), row("k9", status="sent", to=OTHER, message_id="m-9", code="OK"))
    given["mine"] = ["a", "b"]
    out = reconcile(given, client=service(listed("m-1")), journal=journal(record("k0")),
                    settle=0)
    assert out.loc[1].tolist() == given.loc[1].tolist() and out["mine"].tolist() == ["a", "b"]
    assert given.loc[0, "status"] == "unknown"  # the input is a copy


def test_a_message_of_a_sent_row_of_the_result_is_not_a_candidate() -> None:
    given = result(row("k0"), row("k1", status="sent", message_id="m-1"),
                   row("k2", status="sent", message_id=""))
    out = reconcile(given, client=service(listed("m-1"), listed("m-2")),
                    journal=journal(record("k0")), settle=0)
    assert out.loc[0, ["status", "message_id"]].tolist() == ["sent", "m-2"]


def test_a_message_the_journal_knows_as_another_send_s_is_not_a_candidate() -> None:
    ledger = journal(record("k0"), record("old", status="sent", message_id="m-1"))
    out = reconcile(result(row("k0")), client=service(listed("m-1"), listed("m-2")),
                    journal=ledger, settle=0)
    assert out.loc[0, ["status", "message_id"]].tolist() == ["sent", "m-2"]


@pytest.mark.parametrize("status", [INTENT, "unknown"])
def test_another_open_send_to_the_person_could_own_the_message(status: str) -> None:
    ledger = journal(record("k0"), record("other", status=status))
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger, settle=0)
    assert out.loc[0, ["status", "error"]].tolist() == ["unknown", COULD_OWN]


def test_another_send_that_failed_or_was_not_sent_owns_nothing() -> None:
    ledger = journal(record("k0"), record("f", status="failed"), record("n", status="not_sent"))
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger, settle=0)
    assert out.loc[0, ["status", "message_id"]].tolist() == ["sent", "m-1"]


def test_another_open_send_of_another_template_does_not_contest_the_row_s_message() -> None:
    # its own window and template say which messages it could own: not this one
    ledger = journal(record("k0"), record("other", template_code="830174529611842417"),
                     record("free", template_code=None, cust_space_id=None))
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger,
                    cust_space_id=SPACE, settle=0)
    assert out.loc[0, ["status", "message_id"]].tolist() == ["sent", "m-1"]


def test_a_row_whose_record_lacks_a_fact_stays_unknown_in_the_result_and_the_journal() -> None:
    ledger = journal(record("k0", attempted_at=None), record("k1", to=OTHER))
    out = reconcile(result(row("k0"), row("k1", to=OTHER)),
                    client=service(listed("m-1"), listed("m-2", to=OTHER)), journal=ledger,
                    settle=0)
    assert out.loc[0, ["status", "message_id", "code"]].tolist() == ["unknown", None, None]
    assert out.loc[0, "error"] == \
        "unknown after reconciling: the journal does not record this row's attempt time"
    kept = ledger.get_many(["k0"])["k0"]
    assert (kept.status, kept.message_id) == (INTENT, None)  # never recorded as sent


def test_an_open_send_whose_window_is_unknown_could_own_any_message_to_the_person() -> None:
    # its record lacks the attempt time: any message to this number may be its
    ledger = journal(record("k0"), record("other", attempted_at=None),
                     record("k1", to=OTHER), record("far", to="8613900000002", attempted_at=None))
    out = reconcile(result(row("k0"), row("k1", to=OTHER)),
                    client=service(listed("m-1"), listed("m-2", to=OTHER)), journal=ledger,
                    settle=0)
    assert out.loc[0, ["status", "error"]].tolist() == ["unknown", COULD_OWN]
    assert out.loc[1, ["status", "message_id"]].tolist() == ["sent", "m-2"]


def test_a_row_that_cannot_be_looked_up_could_own_any_message_to_its_number() -> None:
    # k1 has no journal record: neither row can say the one message is its own
    ledger = journal(record("k0"))
    out = reconcile(result(row("k0"), row("k1")), client=service(listed("m-1")),
                    journal=ledger, settle=0)
    assert out.loc[0, ["status", "error"]].tolist() == ["unknown", COULD_OWN]
    assert out.loc[1, "error"] == ("unknown after reconciling: the journal has no record of "
                                   "this row (pass the journal= given to send_frame)")


def test_rows_that_can_be_looked_up_are_settled_beside_rows_that_cannot() -> None:
    ledger = journal(record("k0"))
    out = reconcile(result(row("k0"), row("k1", to=OTHER)), client=service(listed("m-1")),
                    journal=ledger, settle=0)
    assert out["status"].tolist() == ["sent", "unknown"]


def test_a_row_sent_without_a_space_takes_the_one_given() -> None:
    ledger = journal(record("k0", cust_space_id=None))
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger,
                    cust_space_id=SPACE, settle=0)
    assert out.loc[0, "status"] == "sent"
    out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger, settle=0)
    assert out.loc[0, "error"].startswith("unknown after reconciling: no CustSpaceId")


# -- receipts ------------------------------------------------------------------------------------


def test_receipts_settle_rows_and_the_journal_follows_where_it_has_the_row() -> None:
    ledger = journal(record("k1", to=OTHER))  # k0 is not this journal's row
    receipts = [{"MessageId": "m-0", "TaskId": "task-k0", "To": TO},
                {"MessageId": "m-1", "TaskId": "task-k1", "To": OTHER}]
    out = reconcile(result(row("k0"), row("k1", to=OTHER)), client=service(), journal=ledger,
                    receipts=receipts, settle=0)
    assert out["message_id"].tolist() == ["m-0", "m-1"]
    assert out.loc[1, "error"] == \
        "reconciled: the service accepted it (a delivery receipt shows it)"
    kept = ledger.get_many(["k1"])["k1"]
    assert (kept.status, kept.message_id) == ("sent", "m-1")
    assert list(ledger.get_many(["k0", "k1"])) == ["k1"]


def test_a_receipt_for_the_message_id_an_unknown_row_holds_settles_it() -> None:
    given = result(row("k0", task_id=None, message_id="m-7"), row("k1", to=OTHER, task_id=None,
                                                                  message_id="m-8"))
    out = reconcile(given, client=service(), journal=journal(), settle=0,
                    receipts=[{"MessageId": "m-7", "Status": "Delivered"}])
    assert out["status"].tolist() == ["sent", "unknown"]
    assert out.loc[0, "message_id"] == "m-7"


def test_a_listing_page_that_fails_once_is_asked_again_after_a_pause_on_the_given_sleep() -> None:
    answers = iter([httpx.Response(503, json={"Code": "ServiceUnavailable", "Message": "busy"}),
                    httpx.Response(200, json={"RequestId": "r", "Code": "OK",
                                              "Data": [listed("m-1")]})])
    client = Client(access_key_id="k", access_key_secret="s",
                    transport=httpx.MockTransport(lambda request: next(answers)))
    waited: list[float] = []
    out = reconcile(result(row("k0")), client=client, journal=journal(record("k0")), settle=0,
                    sleep=waited.append)
    assert out.loc[0, "status"] == "sent"
    assert len(waited) == 1 and waited[0] > 0  # the pause before asking again, on our sleep


# -- settling time -------------------------------------------------------------------------------


def waits(given: pd.DataFrame, records: list[JournalRow], now: float, settle: float = 2.0
          ) -> list[float]:
    """What reconcile sleeps, its clock reading ``now`` (each time with a fresh journal)."""
    waited: list[float] = []
    reconcile(given, client=service(), journal=journal(*records), settle=settle,
              sleep=waited.append, clock=lambda: now)
    return waited


def test_the_service_gets_settle_seconds_from_the_latest_attempt() -> None:
    records = [record("k0"), record("k1", attempted_at="2026-01-01T00:00:01.000+00:00")]
    given = result(row("k0"), row("k1"))
    assert waits(given, records, AT_S + 1.5) == [pytest.approx(1.5)]
    assert waits(given, records, AT_S + 3.0) == []
    assert waits(given, records, AT_S - 600) == [2.0]  # a clock behind: never more than settle


def test_a_later_answer_of_the_run_counts_as_its_latest_attempt() -> None:
    given = result(row("k0"), row("k9", status="sent", to=OTHER, message_id="m-9",
                                  sent_at="2026-01-01T00:00:01.500+00:00"))
    assert waits(given, [record("k0")], AT_S + 2.0) == [pytest.approx(1.5)]


def test_the_service_gets_two_seconds_unless_told_otherwise() -> None:
    waited: list[float] = []
    reconcile(result(row("k0")), client=service(), journal=journal(record("k0")),
              sleep=waited.append, clock=lambda: AT_S)
    assert waited == [2.0]


def test_a_settle_under_a_second_is_waited_too() -> None:
    assert waits(result(row("k0")), [record("k0")], AT_S + 0.25, settle=0.5) == \
        [pytest.approx(0.25)]


def test_with_settle_zero_nothing_waits_whatever_the_clock() -> None:
    assert waits(result(row("k0")), [record("k0")], AT_S - 600, settle=0) == []


def test_nothing_waits_when_no_row_can_be_looked_up() -> None:
    given = result(row("k0"), row("k9", status="sent", to=OTHER, message_id="m-9", sent_at=AT))
    assert waits(given, [], AT_S) == []


# -- which journal -------------------------------------------------------------------------------


def test_a_journal_path_that_does_not_exist_is_named_in_the_error(tmp_path: Path) -> None:
    where = tmp_path / "typo.db"
    with pytest.raises(FileNotFoundError) as info:
        reconcile(result(row("k0")), client=service(), journal=where, settle=0)
    assert str(info.value) == (f"no journal at {str(where)!r}: pass the journal= given to "
                               "send_frame (None for its default, False for none)")


def test_a_journal_given_by_path_is_closed_after_and_one_given_open_is_left_open(
        tmp_path: Path) -> None:
    where = tmp_path / "send.db"
    ledger = SqliteJournal(where)
    ledger.outcome(record("k0"))
    try:
        out = reconcile(result(row("k0")), client=service(listed("m-1")), journal=ledger,
                        settle=0)
        assert out.loc[0, "status"] == "sent"
        assert ledger.get_many(["k0"])["k0"].status == "sent"  # still open: usable
    finally:
        ledger.close()
    reconcile(result(row("k0")), client=service(listed("m-1")), journal=str(where), settle=0)
    SqliteJournal(where).close()  # reconcile let go of the file


def test_without_a_journal_nothing_is_asked_and_the_rows_say_so() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(500)

    client = Client(access_key_id="k", access_key_secret="s", transport=httpx.MockTransport(handle))
    for choice in (False, None):  # None: the session journal, which a hand-made frame has not
        out = reconcile(result(row("k0")), client=client, journal=choice, settle=0)
        assert out.loc[0, "status"] == "unknown" and "journal has no record" in out.loc[0, "error"]
    assert asked == []


def test_a_result_with_a_repeated_column_is_refused() -> None:
    given = result(row("k0"))
    given.insert(len(given.columns), "error", None, allow_duplicates=True)
    with pytest.raises(ValueError, match="the result has more than one 'error' column"):
        reconcile(given, client=service(), journal=journal(record("k0")), settle=0)


def test_the_window_is_sixteen_minutes_either_side() -> None:
    assert WINDOW_MS == 16 * 60 * 1000
