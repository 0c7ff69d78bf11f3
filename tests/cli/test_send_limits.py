"""``cams-notebook send`` and the platform's limits (issue #13): ``--sender-mps``,
``--no-health-check``, ``--no-allowance``, ``--limits``, the health gate's exit code and the
rows left for a later run.

The runs call ``main()`` in this process against the in-process sandbox (``--sandbox``), whose
magic sender numbers stand for a banned number (8613800000902) and a YELLOW number at
``TIER_250`` (8613800000903); every other number is healthy and unlimited.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cams_notebook.cli import main
from cams_notebook.cli.exits import ExitCode
from cams_notebook.cli.send_limits import limits_text, sender_limits
from cams_notebook.cli.send_report import later_lines
from cams_notebook.errors import PlatformStopError
from cams_notebook.sandbox import default_sandbox
from tests.cli.test_send_output import recipients

BANNED, TIER_250, HEALTHY = "8613800000902", "8613800000903", "8613800000000"
TEMPLATE = ["--channel-type", "whatsapp", "--type", "template",
            "--template-code", "830174529611842305", "--language", "en",
            "--params", "name,order_id"]


def send(csv: Path, sender: str, *extra: str, progress: bool = False) -> list[str]:
    return ["send", str(csv), "--sandbox", *TEMPLATE, "--from", sender,
            *(() if progress else ("--no-progress",)), *extra]


def sent() -> int:
    return len(default_sandbox().messages())


def err_lines(err: str) -> list[str]:
    """stderr without the sandbox's own notice (printed once per process)."""
    return [line for line in err.splitlines() if not line.startswith("cams_notebook: this")]


# -- --limits: the plan per sender, nothing sent --------------------------------------------------


def test_limits_prints_the_plan_of_a_tier_250_sender_and_sends_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 260)
    code = main(send(csv, TIER_250, "--limits", "--journal", str(tmp_path / "send.db")))
    out = capsys.readouterr().out
    assert code == ExitCode.OK
    header, row = out.splitlines()[1:3]
    assert header.split() == ["sender", "status", "quality", "can_send", "tier", "limit", "used",
                              "left", "rows_now", "rows_deferred", "deferred_until", "verdict"]
    assert row.split()[:5] == [TIER_250, "CONNECTED", "YELLOW", "-", "TIER_250"]  # can_send:
    assert row.split()[5:10] == ["250", "0", "250", "250", "10"]  # not asked, no CustSpaceId
    assert row.endswith("UTC warning")
    assert "250 row(s) would go now, 10 would be deferred" in out
    assert f"Sender {TIER_250} has QualityRating YELLOW" in out
    assert "pass --cust-space-id ID to have their health checked" in out  # said in flags
    assert sent() == 0


def test_limits_with_a_refusal_lists_it_and_exits_as_the_send_would(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 3)
    code = main(send(csv, BANNED, "--limits"))
    out = capsys.readouterr().out
    assert code == ExitCode.REFUSED == 6
    assert "1 refusal(s): a send would stop before its first request" in out
    assert f"  - Sender {BANNED} has Status BANNED, not CONNECTED" in out
    assert out.splitlines()[2].split()[-1] == "refused"
    assert sent() == 0


def test_dry_run_and_limits_together_is_a_usage_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 3)
    assert main(send(csv, HEALTHY, "--limits", "--dry-run")) == ExitCode.USAGE
    assert err_lines(capsys.readouterr().err) == [
        "cams-notebook send: --dry-run and --limits: give one of them (each sends nothing: the "
        "dry run checks every row, --limits plans them per sender)"]


def test_limits_of_a_campaign_without_whatsapp_template_rows_says_none_applies() -> None:
    plan = pd.DataFrame(columns=["sender", "rows_now", "rows_deferred"])
    plan.attrs.update(refusals=[], warnings=[])
    assert limits_text(plan).splitlines() == [
        "no WhatsApp template rows to plan: no sender's unique-user allowance applies",
        "the health check found nothing to refuse or warn about"]


# -- the health gate on a send --------------------------------------------------------------------


def test_a_banned_sender_is_refused_before_the_first_request_with_exit_6(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, journal, out = recipients(tmp_path / "in.csv", 3), tmp_path / "send.db", tmp_path / "o"
    code = main(send(csv, BANNED, "--journal", str(journal), "--out", str(out)))
    lines = err_lines(capsys.readouterr().err)
    assert code == ExitCode.REFUSED
    assert lines[0] == ("cams-notebook send: the health check refused this campaign before its "
                        "first request, so nothing was sent (1 problem(s)):")
    assert lines[1].startswith(f"  - Sender {BANNED} has Status BANNED, not CONNECTED")
    assert "--no-health-check skips the check" in lines[2]
    assert len(lines) == 3
    assert sent() == 0
    assert not out.exists()


def test_no_health_check_lets_the_same_campaign_go_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 3)
    code = main(send(csv, BANNED, "--no-health-check", "--out", str(tmp_path / "o.csv")))
    capsys.readouterr()
    assert code != ExitCode.REFUSED
    assert sent() == 3  # what happens to them is the platform's word, in their receipts


# -- the unique-user allowance: deferred rows and the run after ------------------------------------


def test_rows_beyond_the_allowance_are_deferred_and_a_re_run_does_not_send_them_early(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, journal, out = recipients(tmp_path / "in.csv", 260), tmp_path / "send.db", tmp_path / "o"
    argv = send(csv, TIER_250, "--sender-mps", "none", "--journal", str(journal),
                "--out", str(out))
    assert main(argv) == ExitCode.FAILED  # not all of it went out: 10 rows wait
    stdout = capsys.readouterr().out
    assert "260 row(s): 250 sent, 10 deferred; this run sent 250 in" in stdout
    line = next(x for x in stdout.splitlines() if x.startswith("10 row(s) deferred"))
    assert line.endswith(" UTC (beyond the sender's unique-user allowance (its messaging tier)):"
                         " run the same command again then: the journal sends only those rows")
    result = pd.read_csv(out)
    assert (result["status"] == "deferred").sum() == 10
    assert result.loc[result["status"] == "deferred", "eligible_at"].notna().all()
    assert sent() == 250
    # the same command again at once: they are not eligible yet, nothing goes twice
    assert main(argv) == ExitCode.FAILED
    again = capsys.readouterr().out
    assert "260 row(s): 250 sent, 10 deferred; this run sent nothing" in again
    assert sent() == 250


def test_no_allowance_sends_every_row_now(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 260)
    code = main(send(csv, TIER_250, "--sender-mps", "none", "--no-allowance"))
    assert code == ExitCode.OK, capsys.readouterr().err
    assert "260 row(s): 260 sent;" in capsys.readouterr().out
    assert sent() == 260


def test_without_a_journal_the_advice_says_to_keep_one(tmp_path: Path) -> None:
    result = pd.DataFrame({"status": ["deferred", "sent"], "eligible_at": [
        pd.Timestamp("2026-12-03T18:00:10Z"), pd.NaT]})
    assert later_lines(result, journal=None) == [
        "1 row(s) deferred until 2026-12-03 18:00 UTC (beyond the sender's unique-user "
        "allowance (its messaging tier)): run again then with a --journal (without one, a "
        "re-run sends every row again)"]


def test_capped_rows_say_from_when_to_when_and_a_platform_stop_says_why() -> None:
    result = pd.DataFrame({"status": ["capped", "capped", "not_sent", "sent"], "eligible_at": [
        pd.Timestamp("2026-12-03T09:00:00Z"), pd.Timestamp("2026-12-03T18:30:00Z"), pd.NaT,
        pd.NaT]})
    reason = PlatformStopError("sender 8613800000905: QualityRating RED (phoneQualityUpdate)")
    assert later_lines(result, journal="send.db", refused=4, stop_reason=reason) == [
        "2 row(s) capped until 2026-12-03 18:30 UTC at the latest (the first from 2026-12-03 "
        "09:00 UTC) (Meta's per-user marketing limit (131049)): run the same command again "
        "then: the journal sends only those rows",
        "the platform refused 4 accepted message(s) for its rate limits (130429, 131056); they "
        "were sent again at a lower rate",
        "stopped early: sender 8613800000905: QualityRating RED (phoneQualityUpdate); 1 row(s) "
        "not sent. Fix the cause (or wait until it passes), then run the same command again: "
        "the journal sends only those rows"]


# -- --sender-mps ------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "limits"), [
    (None, 80),
    (["40"], 40),
    (["none"], None),
    (["NONE"], None),
    (["8613800000904=20", "+86 138-0000-0000=none"], {"8613800000904": 20,
                                                      "8613800000000": None}),
])
def test_sender_mps_is_one_value_or_a_mapping(values: list[str] | None,
                                               limits: object) -> None:
    assert sender_limits(values, 80) == limits


@pytest.mark.parametrize(("values", "line"), [
    (["fast"], "--sender-mps 'fast': expected messages per second as a whole number, or "
               "'none' for no limit of the sender's own, got 'fast'"),
    (["0"], "--sender-mps '0': must be at least 1 message per second (or 'none'), got 0"),
    (["8613800000904=-3"], "--sender-mps '8613800000904=-3': must be at least 1 message per "
                           "second (or 'none'), got -3"),
    (["abc=20"], "--sender-mps 'abc=20': NUMBER must be a sender's phone number (digits), "
                 "got 'abc'"),
    (["1=20", "1=30"], "--sender-mps '1=30': sender 1 is given twice"),
    (["40", "1=20"], "--sender-mps: give one value for every sender (N, or none) once, or "
                     "NUMBER=N pairs (repeat the flag), not both: got 40 1=20"),
    (["40", "50"], "--sender-mps: give one value for every sender (N, or none) once, or "
                   "NUMBER=N pairs (repeat the flag), not both: got 40 50"),
])
def test_a_bad_sender_mps_is_one_line_naming_the_flag_and_nothing_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], values: list[str], line: str) -> None:
    flags = [part for value in values for part in ("--sender-mps", value)]
    code = main(send(tmp_path / "absent.csv", HEALTHY, *flags))
    assert code == ExitCode.USAGE
    assert err_lines(capsys.readouterr().err) == [f"cams-notebook send: {line}"]
    assert sent() == 0


@pytest.mark.parametrize("flag", ["20", f"{HEALTHY}=20"])
def test_sender_mps_paces_the_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       flag: str) -> None:
    csv = recipients(tmp_path / "in.csv", 5)
    assert main(send(csv, HEALTHY, "--sender-mps", flag, progress=True)) == ExitCode.OK
    err = capsys.readouterr().err
    assert f"at 20/s for sender {HEALTHY}" in err  # the estimate names what sets the pace
    assert sent() == 5
