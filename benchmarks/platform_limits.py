"""Within the platform's limits: campaigns that the platform does not refuse after CAMS
accepted them, measured against a sandbox that imitates Meta's limits (``--profile
realistic``: 80 messages/s per sender, one message per 6 s per pair, tiers enforced; quality
drops off, so a contrast run cannot turn the sender RED and stop the next one).

1. One WhatsApp sender, 5,000 rows, against the loopback sandbox (a separate process, 250
   requests/s account limit), receipts pulled from its queue and followed: receipts with
   130429 or 131056 (target 0) and the accepted rate as a fraction of 80/s (target >= 0.95).
   Beside it, the same campaign with the sender limit off (``sender_mps=None``), for contrast:
   its refusals counted (each was sent again by the follower, at a lowered rate).
2. Three senders, 6,000 rows, 2 % of the recipients twice (same sender, so the pair rate
   holds them 6 s apart): refusals (target 0) and the aggregate accepted rate as a fraction
   of min(250, 3 x 80) (target >= 0.95).
3. A TIER_250 sender and 600 new recipients, in process on a clock that can jump a day: the
   first run sends 250 and defers 350 with ``eligible_at``; the same campaign 24 hours later
   sends the next 250 (and defers the last 100 another day).

Ratios, not absolute times: the baseline is the limit itself, measured in the same run.
Run: ``.venv/bin/python benchmarks/platform_limits.py`` (about four minutes).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ACCESS_KEY_ID, ACCESS_KEY_SECRET, sandbox_process  # noqa: E402

from cams_notebook import Client, ReceiptQueue, send_frame  # noqa: E402
from cams_notebook.sandbox import Sandbox  # noqa: E402

QPS, SENDER_MPS = 250, 80
TEMPLATE = dict(channel_type="whatsapp", type="template", template_code="830174529611842305",
                language="en", params=["name", "order_id"])
SENDERS = ["8613800000000", "8613800000011", "8613800000012"]
REFUSALS = ("130429", "131056")


def recipients(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"to": [f"86139{offset + i:08d}" for i in range(n)],
                         "name": [f"user{i}" for i in range(n)],
                         "order_id": [f"A-{offset + i}" for i in range(n)]})


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def run(url: str, frame: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    """One campaign against the loopback sandbox, receipts followed; what the sandbox saw."""
    httpx.post(url + "/_sandbox/reset")
    client = Client(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                    endpoint=url, timeout=10)
    queue = ReceiptQueue(client, store=":memory:", wait_seconds=1).start()
    began = time.perf_counter()
    try:
        result = send_frame(frame, client=client, qps=QPS, journal=False, progress=False,
                            receipts=queue.store, follow_for=20, **TEMPLATE, **kwargs)
    finally:
        queue.stop()
        client.close()
    wall = time.perf_counter() - began
    accepted = httpx.get(url + "/_sandbox/messages").json()
    receipts = httpx.get(url + "/_sandbox/receipts").json()
    codes = Counter(r.get("ErrorCode") for r in _items(receipts) if r.get("Status") == "Failed")
    firsts: dict[str, float] = {}
    for m in accepted:
        firsts.setdefault(m["to"] + "|" + str(m.get("task_id", m.get("id", ""))), m["time"])
    times = sorted(m["time"] for m in accepted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    # the rows that are not a second message to the same person (those wait 6 s for the pair
    # rate by rule, so the last of them end the campaign up to 6 s after the others)
    seen: set[tuple[str, str]] = set()
    firsts_only = []
    for m in sorted(accepted, key=lambda m: m["time"]):
        pair = (m.get("from") or "", m["to"])
        if pair not in seen:
            seen.add(pair)
            firsts_only.append(m["time"])
    first_span = firsts_only[-1] - firsts_only[0] if len(firsts_only) > 1 else 0.0
    in_span = sum(1 for t in times if t <= firsts_only[-1]) if firsts_only else 0
    per_sender = Counter(m.get("from") or m.get("from_") for m in accepted)
    return {"result": result, "accepted": len(accepted), "rate": (len(times) - 1) / span
            if span else 0.0, "busy_rate": (in_span - 1) / first_span if first_span else 0.0,
            "busy_span": first_span, "in_span": in_span, "firsts": len(firsts_only),
            "refused": {c: codes.get(c, 0) for c in REFUSALS},
            "wall": wall, "max_window": max_in_window(times), "per_sender": per_sender,
            "attempts": int(result["attempts"].sum())}


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for name in ("receipts", "Receipts", "items"):
            if isinstance(body.get(name), list):
                return body[name]  # type: ignore[no-any-return]
        return []
    return list(body)


def three_senders() -> pd.DataFrame:
    frame = recipients(6000)
    frame["from_"] = [SENDERS[i % 3] for i in range(len(frame))]
    twice = frame.index[frame.index % 50 == 49]  # 2 %: these rows repeat an earlier recipient
    frame.loc[twice, "to"] = frame.loc[twice - 3, "to"].to_numpy()  # same sender (i - 3)
    frame["key"] = frame["order_id"]  # a row is its order, so one person may get two
    return frame


class DayClock:
    """Real time plus whole days: the sandbox and the campaign agree, and a day passes at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def tiers_case() -> dict[str, Any]:
    clock = DayClock()
    sandbox = Sandbox(profile="realistic", tier="TIER_250", quality_drops=False, clock=clock)
    client = sandbox.client(clock=clock)
    frame = recipients(600, offset=500_000)
    with tempfile.TemporaryDirectory() as folder:
        journal = str(Path(folder) / "tier.db")
        kwargs = dict(client=client, journal=journal, progress=False, wall=clock,
                      campaign="tier-250", from_="8613800000000", **TEMPLATE)
        first = send_frame(frame, **kwargs)
        sent_first = len(sandbox.messages())
        clock.offset += 24 * 3600 + 60
        second = send_frame(frame, **kwargs)
    client.close()
    return {"first": first["status"].value_counts().to_dict(),
            "eligible": first.loc[first["status"] == "deferred", "eligible_at"],
            "sent_first": sent_first, "sent_second": len(sandbox.messages()) - sent_first,
            "second": second["status"].value_counts().to_dict(),
            "started": first["sent_at"].min()}


def main() -> None:
    with sandbox_process("--profile", "realistic", "--no-quality-drops", "--qps", str(QPS),
                         "--latency-ms", "80,10", "--access-key-id", ACCESS_KEY_ID,
                         "--access-key-secret", ACCESS_KEY_SECRET, "--seed", "1",
                         "--phone-numbers", ",".join(SENDERS[1:])) as (url, _):
        one = run(url, recipients(5000), from_=SENDERS[0])
        off = run(url, recipients(5000), from_=SENDERS[0], sender_mps=None)
        three = run(url, three_senders(), key="key")
    tiers = tiers_case()

    print(f"1. one sender, 5,000 rows, sandbox limits on ({SENDER_MPS}/s per sender, pair "
          "rate), receipts followed")
    print(f"   sender limit on  : refusals 130429={one['refused']['130429']} "
          f"131056={one['refused']['131056']} (target 0); accepted {one['accepted']}; rate "
          f"{one['rate']:.1f}/s = {one['rate'] / SENDER_MPS:.3f} of {SENDER_MPS}/s (target "
          f">= 0.95); busiest 1-s window {one['max_window']}; {one['wall']:.0f} s")
    print(f"   sender limit off : refusals 130429={off['refused']['130429']} "
          f"131056={off['refused']['131056']}; requests {off['attempts']} for 5,000 rows "
          f"({off['attempts'] - 5000} sent again after a refusal); accepted rate "
          f"{off['rate']:.1f}/s; busiest 1-s window {off['max_window']}; {off['wall']:.0f} s")
    target = min(QPS, 3 * SENDER_MPS)
    twice = int(three_senders()["to"].duplicated().sum())
    print(f"2. three senders, 6,000 rows, {twice} recipients twice (same sender)")
    print(f"   refusals 130429={three['refused']['130429']} 131056={three['refused']['131056']} "
          f"(target 0); accepted {three['accepted']} ({dict(three['per_sender'])})")
    print(f"   aggregate rate until the last first message to a person ({three['busy_span']:.1f} s,"
          f" {three['in_span']} messages): {three['busy_rate']:.1f}/s = "
          f"{three['busy_rate'] / target:.3f} of min({QPS}, 3 x {SENDER_MPS}) = {target}/s "
          "(target >= 0.95)")
    print(f"   then the last second messages, which wait 6 s for the pair rate by rule: all "
          f"{three['accepted']} in {three['rate'] and (three['accepted'] - 1) / three['rate']:.1f}"
          f" s ({three['rate']:.1f}/s); {three['wall']:.0f} s with following the receipts")
    eligible = pd.to_datetime(tiers["eligible"], utc=True)
    started = tiers["started"]
    hours = ((eligible - started).dt.total_seconds() / 3600).round().value_counts().sort_index()
    print("3. TIER_250 sender, 600 new recipients (in process, a clock that can jump a day)")
    print(f"   first run  : {tiers['first']} ; requests {tiers['sent_first']}; deferred rows "
          f"eligible after (hours: rows) {hours.to_dict()}")
    print(f"   24 h later : {tiers['second']} ; requests {tiers['sent_second']} (target 250)")


if __name__ == "__main__":
    os.environ.pop("ALIBABA_CLOUD_ACCESS_KEY_ID", None)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    main()
