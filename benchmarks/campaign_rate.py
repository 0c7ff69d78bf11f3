"""How fast, how exact and how cheap is a campaign? Printed as ratios against the limit and
against a plain loop over the official SDK, measured in the same run.

1. 5,000 messages through ``send_frame`` to the loopback sandbox (a separate process,
   250 requests/s limit, 80 ms mean latency; one sender with no per-sender limit, so the
   account's quota sets the pace): achieved rate as a fraction of the limit
   (target >= 0.97), throttle answers received (target 0), the largest number of requests
   the sandbox accepted in any one-second window (must be <= 250), and the CPU time this
   process spent per message and as a fraction of one core at the limit (target <= 0.5).
2. The same sandbox, driven by a plain sequential loop over the official SDK.
3. The dry run (``validate_frame``) over 1,000,000 generated rows, in a fresh process:
   rows/s and peak memory.

Run: ``.venv/bin/python benchmarks/campaign_rate.py`` (about two minutes).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import textwrap
import time

import httpx
import pandas as pd

from cams_notebook import Client, send_frame

QPS = 250
ROWS = 5000
SDK_ROWS = 150
KEY_ID, SECRET = "bench-key", "bench-secret"
TEMPLATE = dict(channel_type="whatsapp", type="template", from_="8613800000000",
                template_code="830174529611842305", language="en")


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cams_notebook.sandbox", "--host", "127.0.0.1", "--port", "0",
         "--qps", str(QPS), "--latency-ms", "80,10", "--access-key-id", KEY_ID,
         "--access-key-secret", SECRET, "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://[\d.]+:\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    return proc, match.group(1)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def recipients(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "to": [f"86139{offset + i:08d}" for i in range(n)],
        "name": [f"user{i}" for i in range(n)],
        "order_id": [f"A-{i}" for i in range(n)],
    })


def campaign(url: str) -> dict[str, float]:
    client = Client(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=url, timeout=10)
    frame = recipients(ROWS)
    httpx.post(url + "/_sandbox/reset")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    # the account's pacing is measured here: one sender number with no limit of its own (an
    # upgraded number); benchmarks/platform_limits.py measures the per-sender limits
    result = send_frame(frame, client=client, qps=QPS, journal=False, progress=False,
                        sender_mps=None, params=["name", "order_id"], **TEMPLATE)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    accepted = httpx.get(url + "/_sandbox/messages").json()
    stats = httpx.get(url + "/_sandbox/stats").json()
    times = [m["time"] for m in accepted]
    span = max(times) - min(times)
    client.close()
    return {
        "sent": float((result["status"] == "sent").sum()), "wall": wall, "cpu": cpu,
        "accepted": float(len(accepted)), "rate": (len(accepted) - 1) / span if span else 0.0,
        "max_window": float(max_in_window(times)), "throttled": float(stats["throttled"]),
    }


def sdk_loop(url: str) -> dict[str, float]:
    from alibabacloud_cams20200606.client import Client as SdkClient
    from alibabacloud_cams20200606.models import SendChatappMessageRequest
    from alibabacloud_tea_openapi.models import Config
    from darabonba.runtime import RuntimeOptions

    host = url.split("://", 1)[1]
    sdk = SdkClient(Config(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=host,
                           protocol="http"))
    runtime = RuntimeOptions()
    httpx.post(url + "/_sandbox/reset")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ok = 0
    for i in range(SDK_ROWS):
        request = SendChatappMessageRequest(
            channel_type="whatsapp", type="template", from_="8613800000000",
            to=f"86138{i:08d}", template_code="830174529611842305", language="en",
            template_params={"name": f"user{i}", "order_id": f"A-{i}"})
        ok += sdk.send_chatapp_message_with_options(request, runtime).body.code == "OK"
    return {"sent": float(ok), "wall": time.perf_counter() - wall0,
            "cpu": time.process_time() - cpu0}


DRY_RUN = textwrap.dedent("""
    import json, resource, time
    import pandas as pd
    from cams_notebook import validate_frame
    from cams_notebook.sandbox import Sandbox
    n = 1_000_000
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(n)],
                          "name": [f"user{i}" for i in range(n)],
                          "order_id": [f"A-{i}" for i in range(n)]})
    frame.loc[::1000, "name"] = None
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    problems = validate_frame(frame, client=Sandbox().client(), params=["name", "order_id"],
                              **json.loads(%r))
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": n, "seconds": elapsed, "problems": len(problems),
                      "rss_before_mb": rss0 / 1024, "peak_rss_mb": rss / 1024}))
""") % json.dumps(TEMPLATE)


def dry_run() -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", DRY_RUN], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    proc, url = start_sandbox()
    try:
        ours = campaign(url)
        sdk = sdk_loop(url)
    finally:
        proc.terminate()
        proc.wait(10)
    dry = dry_run()
    cpu_per_msg = ours["cpu"] / ours["sent"]
    sdk_cpu = sdk["cpu"] / sdk["sent"]
    print(f"campaign: {ROWS} rows to the loopback sandbox (limit {QPS}/s, latency 80±10 ms)")
    print(f"  sent                         {ours['sent']:.0f} of {ROWS} "
          f"(sandbox accepted {ours['accepted']:.0f})")
    print(f"  achieved rate                {ours['rate']:.1f}/s = {ours['rate'] / QPS:.3f} "
          "of the limit (target >= 0.97)")
    print(f"  throttle answers             {ours['throttled']:.0f} (target 0)")
    print(f"  largest 1-s window           {ours['max_window']:.0f} (must be <= {QPS})")
    print(f"  wall time                    {ours['wall']:.2f} s")
    print(f"  CPU per message              {cpu_per_msg * 1e6:.0f} µs; at {QPS}/s = "
          f"{cpu_per_msg * QPS:.3f} of one core (target <= 0.5)")
    print(f"official SDK, plain loop: {SDK_ROWS} messages, same sandbox")
    print(f"  achieved rate                {sdk['sent'] / sdk['wall']:.1f}/s = "
          f"{sdk['sent'] / sdk['wall'] / QPS:.3f} of the limit")
    print(f"  CPU per message              {sdk_cpu * 1e6:.0f} µs")
    print(f"  ratio (ours / SDK loop)      rate x{ours['rate'] / (sdk['sent'] / sdk['wall']):.1f}, "
          f"CPU per message x{cpu_per_msg / sdk_cpu:.2f}")
    print(f"dry run: {dry['rows']:,} rows in {dry['seconds']:.1f} s = "
          f"{dry['rows'] / dry['seconds']:,.0f} rows/s, "
          f"{dry['problems']:,} problems, peak RSS {dry['peak_rss_mb']:.0f} MB "
          f"(frame alone {dry['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    os.environ.pop("ALIBABA_CLOUD_ACCESS_KEY_ID", None)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    main()
