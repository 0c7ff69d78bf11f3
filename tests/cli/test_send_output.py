"""What ``cams-notebook send`` prints (issue #15): advice in flags, not Python syntax; a field
no row has as one line; a summary whose rate covers only what this run sent; ``--help`` in
groups with the exit codes; ``docs/cli.md`` covering every flag and exit code.

The campaigns package keeps its Python wording (``on_invalid='skip'``) for notebook users;
these tests pin that the CLI says the same in flags. They call ``main()`` in this process.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import pytest

from cams_notebook.campaigns.frames import InvalidFrameError, send_frame
from cams_notebook.cli import build_parser, main
from cams_notebook.cli.exits import EXIT_CODES, ExitCode
from cams_notebook.cli.wording import flag_wording
from cams_notebook.client import Client
from cams_notebook.models import WIRE_NAMES
from cams_notebook.sandbox import default_sandbox
from tests.cli.test_send import CAMPAIGN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
NO_FROM = [a for a in CAMPAIGN if a not in ("--from", "8613800000000")]
PYTHON_SYNTAX = re.compile(r"\b\w+=(False|True|None|'[^']*')|\w+= ")


def recipients(path: Path, count: int, sender: bool = False) -> Path:
    rows = [f"86139{n:08d},Ada,A-{n}" + (",8613800000000" if sender else "")
            for n in range(count)]
    path.write_text("to,name,order_id" + (",From" if sender else "") + "\n"
                    + "\n".join(rows) + "\n")
    return path


def send(csv: Path, *extra: str) -> list[str]:
    return ["send", str(csv), "--sandbox", *extra]


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- a field missing on every row ----------------------------------------------------------------


def test_without_from_298_rows_are_one_line_naming_the_flag_and_the_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 298)
    journal, out = tmp_path / "send.db", tmp_path / "out.csv"
    code = main(send(csv, *NO_FROM, "--journal", str(journal), "--out", str(out)))
    stdout, err = capsys.readouterr()
    assert code == ExitCode.USAGE
    assert one_line(err) == ("cams-notebook send: From is missing on all 298 rows: pass --from "
                             "NUMBER or add a From column; nothing was sent")
    assert "From is required" not in stdout + err
    assert default_sandbox().messages() == [] and not journal.exists() and not out.exists()
    # the user adds the flag and runs the same command again
    assert main(send(csv, *CAMPAIGN, "--journal", str(journal), "--out", str(out))) == 0
    assert len(default_sandbox().messages()) == 298


def test_the_dry_run_says_it_in_one_line_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 40)
    no_language = [a for a in NO_FROM if a not in ("--language", "en")]
    assert main(send(csv, *no_language, "--dry-run")) == ExitCode.USAGE
    stdout, err = capsys.readouterr()
    assert one_line(err) == (
        "cams-notebook send: From is missing on all 40 rows: pass --from NUMBER or add a From "
        "column; Language is missing on all 40 rows: pass --language LANG or add a Language "
        "column; nothing was sent")
    assert "required" not in stdout


def test_an_empty_column_is_named_as_the_column_to_fill(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("to,name,order_id,From\n8613900000001,Ada,A-1,\n8613900000002,Bo,A-2,\n")
    assert main(send(csv, *NO_FROM)) == ExitCode.USAGE
    assert one_line(capsys.readouterr().err) == (
        "cams-notebook send: From is empty on all 2 rows: fill the From column, or pass --from "
        "NUMBER; nothing was sent")


def test_read_in_chunks_a_column_that_is_absent_is_missing_on_every_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 30)
    assert main(send(csv, *NO_FROM, "--chunksize", "7")) == ExitCode.USAGE
    assert one_line(capsys.readouterr().err) == (
        "cams-notebook send: From is missing on every row: pass --from NUMBER or add a From "
        "column; nothing was sent")
    assert default_sandbox().messages() == []


def test_a_field_missing_on_some_rows_lists_those_rows_with_the_flag_to_skip_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("to,name,order_id,From\n8613900000001,Ada,A-1,8613800000000\n"
                   "8613900000002,Bo,A-2,\n")
    assert main(send(csv, *NO_FROM)) == ExitCode.FAILED
    err = capsys.readouterr().err
    first, *rows = err.splitlines()
    assert first == ("cams-notebook send: 1 row(s) are invalid, so nothing was sent. Fix them, "
                     "or pass --on-invalid skip to send the valid rows only (--dry-run lists "
                     "every problem):")
    assert rows == ["  row 1: From: is required [required]"]
    assert not PYTHON_SYNTAX.search(err)
    assert main(send(csv, *NO_FROM, "--on-invalid", "skip")) == ExitCode.FAILED
    assert [m["to"] for m in default_sandbox().messages()] == ["8613900000001"]


# -- advice in flags -----------------------------------------------------------------------------


def test_a_re_run_with_the_journal_says_which_flag_sends_again_and_reports_no_rate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 3)
    progress = [a for a in CAMPAIGN if a != "--no-progress"]  # the notes come with the bar
    args = send(csv, *progress, "--journal", str(tmp_path / "send.db"))
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    took = r"([\d.]+ s|\d+ ms)"
    assert re.fullmatch(rf"3 row\(s\): 3 sent; this run sent 3 in {took} \(\d+/s\)", first)
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == ("3 row(s): 3 sent; this run sent nothing (3 row(s) were "
                                    "already in the journal)")
    assert ("3 row(s) were already in this campaign's journal and were not sent again (run "
            "without --journal, or with a new journal file, to send them anyway)") in err
    assert not PYTHON_SYNTAX.search(out + err)
    assert len(default_sandbox().messages()) == 3


def test_the_rate_covers_only_this_run_s_sends_over_their_own_time() -> None:
    from cams_notebook.cli.send_report import summary_line

    started = 1_700_000_000.0
    at = pd.to_datetime([started - 86_400, started + 1.0, started + 2.0, None], unit="s",
                        utc=True)
    result = pd.DataFrame({"status": ["sent", "sent", "sent", "failed"], "sent_at": at,
                           "latency_ms": [40.0, 500.0, 100.0, 30.0]})
    # yesterday's row is the journal's; today's two went out from +0.5 s to +2.0 s
    assert summary_line(result, started, skipped=1) == (
        "4 row(s): 3 sent, 1 failed; this run sent 2 in 1.5 s (1/s) (1 row(s) were already in "
        "the journal)")
    assert summary_line(result.iloc[[0, 3]], started, skipped=1) == (
        "2 row(s): 1 sent, 1 failed; this run sent nothing (1 row(s) were already in the "
        "journal)")


def test_changed_rows_name_on_changed_send_on_stderr_and_in_the_out_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 2)
    out = tmp_path / "out.csv"
    progress = [a for a in CAMPAIGN if a != "--no-progress"]
    args = send(csv, *progress, "--journal", str(tmp_path / "send.db"), "--out", str(out))
    assert main(args) == 0
    csv.write_text(csv.read_text().replace("Ada", "Ada L."))  # the user edits the CSV
    assert main(args) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "(status 'changed'; pass --on-changed send to send the new version)" in err
    errors = pd.read_csv(out)["error"].tolist()
    assert all("(pass --on-changed send to send it)" in e for e in errors)
    assert not PYTHON_SYNTAX.search(err + out.read_text())


def test_the_python_api_keeps_its_own_words(tmp_path: Path) -> None:
    frame = pd.DataFrame({"to": ["8613900000001"]})
    with Client.sandbox() as client, pytest.raises(InvalidFrameError) as info:
        send_frame(frame, client=client, channel_type="whatsapp", type="template",
                   progress=False)
    assert "on_invalid='skip'" in str(info.value)


@pytest.mark.parametrize(("python", "cli"), [
    ("key column 'id' is not in the frame", "--key column 'id' is not in the CSV"),
    ("params names column(s) not in the frame: 'nme'",
     "--params names column(s) not in the CSV: 'nme'"),
    ("From is given both as column 'from' and as a constant: drop one of them",
     "From is given both as column 'from' and as --from: drop one of them"),
    ("template variables given both by params= and as a constant",
     "template variables given both by --params and --template-params"),
    ("drop one of the rows, or name a key= column when one person is meant to get several",
     "drop one of the rows, or name a column with --key when one person is meant to get several"),
])
def test_the_package_s_advice_is_said_in_flags(python: str, cli: str) -> None:
    assert flag_wording(python) == cli


def test_a_flag_and_a_column_for_one_field_is_a_usage_line_in_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = recipients(tmp_path / "in.csv", 2, sender=True)
    assert main(send(csv, *CAMPAIGN)) == ExitCode.USAGE
    assert one_line(capsys.readouterr().err) == (
        "cams-notebook send: From is given both as column 'From' and as --from: drop one of them")


# -- --help and docs/cli.md ----------------------------------------------------------------------


def send_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["send"]


def test_send_help_groups_the_flags_and_every_request_field_is_a_flag(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["send", "--help"])
    text = capsys.readouterr().out
    titles = ["what to send:", "where it goes:", "pacing and journal:", "output:",
              "per-field overrides:", "exit codes:"]
    positions = [text.index(f"\n{t}\n") for t in titles]
    assert positions == sorted(positions)
    what, overrides = (text[positions[0]:positions[1]], text[positions[4]:positions[5]])
    for flag in ("--from NUMBER", "--template-code CODE", "--language LANG", "--params COLUMNS",
                 "--channel-type {whatsapp,messenger,instagram,viber,telegram,line}"):
        assert flag in what
    for flag in ("--cust-space-id ID", "--ttl SECONDS", "--fall-back-rule {undelivered,"):
        assert flag in overrides
    groups = {g.title: [a.dest for a in g._group_actions] for g in send_parser()._action_groups}
    per_field = {d for g in groups.values() for d in g if d.startswith("const_")}
    assert per_field == {f"const_{name}" for name in WIRE_NAMES}
    assert len(groups["per-field overrides"]) > 15


def test_every_help_ends_with_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["send", "--help"], ["sandbox", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        table = text[text.index("exit codes:"):]
        for code in ExitCode:
            assert re.search(rf"^\s+{int(code)}  \S", table, re.MULTILINE), (argv, code)
        assert "--debug" in text


def test_docs_cli_md_covers_every_send_flag_and_exit_code() -> None:
    docs = DOCS.read_text()
    flags = {s for a in send_parser()._actions for s in a.option_strings if s.startswith("--")}
    missing = sorted(f for f in flags if f not in docs)
    assert not missing, missing
    for code, text in EXIT_CODES.items():
        assert re.search(rf"^\| {int(code)} \| `{code.name}` \|", docs, re.MULTILINE), code
        assert text
    for command in ("sandbox", "send", "receipts"):
        assert f"cams-notebook {command}" in docs
