"""Does every row end true, and once, whatever happens? Faults and kills, counted.

1. faults: ``--rows`` messages through ``send_frame`` to the loopback sandbox (its own
   process, ``--qps`` limit, 80 ms mean latency, the harsh fault profile: 5xx, resets before
   and after acceptance, answers that never come, slow answers, throttle bursts), with a
   SQLite journal and the client's default 10 s timeout;
2. kills: the same campaign in a child process SIGKILLed at ``--kills`` seeded moments and
   started again with its journal until a run ends (same faults).

After each, ``reconcile`` settles the ``unknown`` rows from the sandbox's record
(``ListChatappMessage`` in its official shape: each row found by sender, recipient, space
and the window of its attempt) and ``resend`` sends the ``not_sent`` ones, until every row
is ``sent`` or ``failed``. Printed per scenario: rows, faults injected by kind, retries,
unknowns before and after reconciliation, duplicates (target 0), lost rows (target 0: not
accepted, yet not reported failed), rows reported sent that were not accepted (target 0),
and the achieved rate under faults as a fraction of the limit (accepted messages per second
while the campaign ran).

Run: ``.venv/bin/python benchmarks/chaos_report.py`` (about 10 minutes at the defaults:
50,000 rows at 250/s, twice). ``--rows 5000`` for a quick look.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from cams_notebook import Client, reconcile, resend, send_frame
from cams_notebook.sandbox import DEFAULT_CUST_SPACE_ID

sys.path.insert(0, str(Path(__file__).parent))
from _common import ACCESS_KEY_ID, ACCESS_KEY_SECRET, sandbox_process

CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en", "params": ["name", "order_id"],
}
TIMEOUT = 10.0
FAULTS = ("server_error", "reset_before", "reset_after", "timeout_after", "throttle", "slow")


def recipients(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"to": [f"86139{i:08d}" for i in range(rows)], "name": "Ada",
                         "order_id": [f"A-{i}" for i in range(rows)]})


def client_for(url: str) -> Client:
    return Client(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, endpoint=url,
                  timeout=TIMEOUT)


def inspect(url: str, route: str) -> Any:
    return httpx.get(f"{url}/_sandbox/{route}", timeout=120, trust_env=False).json()


def child(url: str, journal: str, rows: int, qps: int, out: str) -> None:
    """One run of the campaign (``--child``); the kill scenario starts and kills these."""
    result = send_frame(recipients(rows), client=client_for(url), qps=qps, journal=journal,
                        progress=False, **CAMPAIGN)
    if out:
        result.to_pickle(out)


def settle(frame: pd.DataFrame, result: pd.DataFrame, url: str, journal: str, qps: int
           ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Reconcile and resend until every row is final; what it took."""
    client = client_for(url)
    took: dict[str, Any] = {"unknown": int((result["status"] == "unknown").sum()), "rounds": 0,
                            "resent": 0,
                            "retries": int((result["attempts"] - 1).clip(lower=0).sum())}
    started = time.monotonic()
    for _ in range(8):
        result = reconcile(result, client=client, journal=journal,
                           cust_space_id=DEFAULT_CUST_SPACE_ID)
        took["rounds"] += 1
        if took["rounds"] == 1:
            took["reconciled_sent"] = int(result["error"].fillna("").str.contains(
                "accepted it").sum())
            took["not_sent"] = int((result["status"] == "not_sent").sum())
            took["unknown_after"] = int((result["status"] == "unknown").sum())
        todo = (result["status"] == "not_sent").to_numpy()
        if not todo.any():
            break
        took["resent"] += int(todo.sum())
        result = resend(frame, result, client=client, journal=journal, qps=qps, progress=False,
                        **CAMPAIGN)
        took["retries"] += int((result["attempts"].to_numpy()[todo] - 1).clip(min=0).sum())
    took["seconds"] = time.monotonic() - started
    client.close()
    return result, took


def figures(frame: pd.DataFrame, final: pd.DataFrame, accepted: list[dict[str, Any]],
            stats: dict[str, Any], took: dict[str, Any], rate: float, span_rate: float,
            qps: int) -> dict[str, Any]:
    per_recipient = Counter(m["to"] for m in accepted)
    by_row = {m["to"]: m["message_id"] for m in accepted}
    status = dict(zip(final["to"], final["status"], strict=True))
    ids = dict(zip(final["to"], final["message_id"], strict=True))
    return {
        "rows": len(frame),
        **{f"  {kind}": stats["faults_by_kind"].get(kind, 0) for kind in FAULTS},
        "throttled at the rate limit (not a fault)": stats["throttled"]
        - stats["faults_by_kind"].get("throttle", 0),
        "retries (attempts beyond each row's first)": took["retries"],
        "unknown before reconciliation": took["unknown"],
        "  settled as sent / as not_sent": f"{took['reconciled_sent']} / {took['not_sent']}",
        "unknown after reconciliation": took["unknown_after"],
        "resent (not_sent), rounds": f"{took['resent']}, {took['rounds']}",
        "reconcile and resend, seconds": f"{took['seconds']:.1f}",
        "final: sent / failed": f"{(final['status'] == 'sent').sum()} / "
                                f"{(final['status'] == 'failed').sum()}",
        "duplicates (target 0)": sum(n - 1 for n in per_recipient.values()),
        "lost rows (target 0)": sum(1 for to in frame["to"]
                                    if to not in by_row and status.get(to) != "failed"),
        "reported sent, not accepted (target 0)": sum(
            1 for to, s in status.items() if s == "sent" and ids.get(to) != by_row.get(to)),
        "achieved rate under faults / limit": f"{rate / qps:.2f} ({rate:.0f}/s of {qps}/s)",
        "  sending only (first to last acceptance)": f"{span_rate / qps:.2f}",
    }


def rates(accepted: list[dict[str, Any]], elapsed: float) -> tuple[float, float]:
    """Accepted messages per second: over the whole campaign (start-up, restarts, and the wait
    for answers that never come included), and from the first acceptance to the last."""
    times = sorted(m["time"] for m in accepted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return len(times) / elapsed, (len(times) - 1) / span if span else 0.0


def sandbox_args(qps: int, seed: int) -> list[str]:
    return ["--qps", str(qps), "--latency-ms", "80,20", "--faults", "harsh", "--seed", str(seed)]


def faults_scenario(rows: int, qps: int, seed: int, tmp: Path) -> dict[str, Any]:
    frame = recipients(rows)
    journal = str(tmp / "faults.db")
    with sandbox_process(*sandbox_args(qps, seed)) as (url, _):
        client = client_for(url)
        started = time.monotonic()
        result = send_frame(frame, client=client, qps=qps, journal=journal, progress=False,
                            **CAMPAIGN)
        elapsed = time.monotonic() - started
        rate, span_rate = rates(inspect(url, "messages"), elapsed)
        client.close()
        final, took = settle(frame, result, url, journal, qps)
        accepted, stats = inspect(url, "messages"), inspect(url, "stats")
    out = figures(frame, final, accepted, stats, took, rate, span_rate, qps)
    out["campaign, seconds"] = f"{elapsed:.1f}"
    return out


def kills_scenario(rows: int, qps: int, seed: int, kills: int, tmp: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    frame = recipients(rows)
    journal, out = tmp / "kills.db", tmp / "kills.pkl"
    with sandbox_process(*sandbox_args(qps, seed)) as (url, _):
        args = [sys.executable, __file__, "--child", url, str(journal), str(rows), str(qps)]
        started = time.monotonic()
        killed = 0
        for k in range(kills):  # the k-th kill somewhere in the k-th slice of the campaign
            target = int(rows * rng.uniform(k, k + 1) / (kills + 1))
            run = subprocess.Popen(args + [""], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            # the count, not the list: serialising 50,000 records would stall the sandbox
            while inspect(url, "stats")["accepted"] < target and run.poll() is None:
                time.sleep(0.2)
            time.sleep(rng.uniform(0.0, 0.5))
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
                killed += 1
            run.wait()
        done = subprocess.run(args + [str(out)], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"the last run failed:\n{done.stderr[-3000:]}")
        elapsed = time.monotonic() - started
        rate, span_rate = rates(inspect(url, "messages"), elapsed)
        result = pd.read_pickle(out)
        cut_off = int(result["error"].fillna("").str.contains("previous run stopped").sum())
        final, took = settle(frame, result, url, str(journal), qps)
        accepted, stats = inspect(url, "messages"), inspect(url, "stats")
    report = figures(frame, final, accepted, stats, took, rate, span_rate, qps)
    report["kills (SIGKILL), requests cut off"] = f"{killed}, {cut_off}"
    report["campaign with restarts, seconds"] = f"{elapsed:.1f}"
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--qps", type=int, default=250)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenarios", default="faults,kills", help="faults, kills, or both")
    parser.add_argument("--child", nargs=5, metavar=("URL", "JOURNAL", "ROWS", "QPS", "OUT"))
    args = parser.parse_args()
    if args.child:
        url, journal, rows, qps, out = args.child
        child(url, journal, int(rows), int(qps), out)
        return
    print(f"chaos report: {args.rows:,} rows, limit {args.qps}/s, harsh faults (seed {args.seed}), "
          f"80 ms latency, client timeout {TIMEOUT:g} s", flush=True)
    wanted = set(args.scenarios.split(","))
    faults: dict[str, Any] = {}
    kills: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "faults" in wanted:
            faults = faults_scenario(args.rows, args.qps, args.seed, Path(tmp))
            print("faults done", flush=True)
        if "kills" in wanted:
            kills = kills_scenario(args.rows, args.qps, args.seed, args.kills, Path(tmp))
    names = list(dict.fromkeys([*faults, *kills]))
    width = max(map(len, names)) + 2
    print(f"\n{'':{width}}{'faults':>24}{'faults + kills':>24}")
    for name in names:
        label = "faults injected, by kind:" if name == "  server_error" else None
        if label:
            print(label)
        print(f"{name:{width}}{faults.get(name, '-')!s:>24}{kills.get(name, '-')!s:>24}")


if __name__ == "__main__":
    main()
