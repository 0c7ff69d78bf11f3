"""Helpers shared by the benchmark scripts: a sandbox server in its own process, CPU-time
rounds that interleave the variants being compared, and medians.

Why the server runs in a subprocess: every figure here is the *client* process's CPU time
(``time.process_time()``), and a server in the same process would add its own CPU to it.
Why rounds: the machine is shared and noisy; running the variants one after another in
short rounds, and taking the median per variant, spreads any slow spell over all of them
instead of charging it to whichever ran at the time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from cams_notebook.sandbox._defaults import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

__all__ = [
    "ACCESS_KEY_ID",
    "ACCESS_KEY_SECRET",
    "TEMPLATE_FIELDS",
    "cpu_rounds",
    "fmt_spread",
    "import_seconds",
    "median",
    "process_cpu_seconds",
    "sandbox_process",
]

ACCESS_KEY_ID = DEFAULT_ACCESS_KEY_ID
ACCESS_KEY_SECRET = DEFAULT_ACCESS_KEY_SECRET

TEMPLATE_FIELDS: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "to": "8613900000000", "template_code": "830174529611842305", "language": "en",
    "template_params": {"name": "Ada", "order_id": "A-1"},
}
"""One WhatsApp template message (the sandbox's ``order_shipped`` template), snake_case names
shared by ``cams_notebook.Message`` and the SDK's ``SendChatappMessageRequest``."""

_LISTENING = re.compile(r"listening on (http://\S+)")


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``python -m cams_notebook.sandbox --port 0 ARGS`` and yield ``(base_url, process)``.

    The server is stopped (SIGTERM, then SIGKILL) on exit. Its stderr goes to a temporary
    file and is shown only if it fails to start.
    """
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cams_notebook.sandbox", "--host", "127.0.0.1", "--port", "0",
             *args],
            stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = _LISTENING.search(line)
            if not found:
                proc.kill()
                proc.wait()
                err.seek(0)
                raise RuntimeError(f"the sandbox did not start: {line!r}\n{err.read()}")
            yield found.group(1), proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def cpu_rounds(
    variants: Mapping[str, Callable[[int], object]], *, rounds: int, per_round: int,
    warmup: int = 0, rotate: bool = True,
    prepare: Mapping[str, Callable[[int], object]] | None = None,
) -> dict[str, list[float]]:
    """Client CPU seconds per operation, one figure per round for each variant.

    Each variant is ``run(n)``, doing ``n`` operations. Every round runs every variant once,
    so slow spells of a shared machine hit all alike; with ``rotate`` the order turns by one
    each round. ``prepare[name](n)``, if given, runs before that variant, off the clock.
    """
    prepare = prepare or {}
    for name, run in variants.items():
        if warmup:
            if name in prepare:
                prepare[name](warmup)
            run(warmup)
    names = list(variants)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        shift = i % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            if name in prepare:
                prepare[name](per_round)
            gc.collect()
            start = time.process_time()
            variants[name](per_round)
            out[name].append((time.process_time() - start) / per_round)
    return out


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds another process has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_spread(values: Sequence[float]) -> str:
    """The interquartile spread of ``values`` around their median, in percent."""
    if len(values) < 4:
        return ""
    q1, _, q3 = statistics.quantiles(values, n=4)
    mid = statistics.median(values)
    return f"±{(q3 - q1) / 2 / mid * 100:.0f}%" if mid else ""


def import_seconds(modules: Sequence[str], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of ``import MODULE`` in a fresh interpreter, ``repeats`` times each
    (interleaved); the interpreter's own start-up is not counted."""
    code = ("import time, sys; t = time.perf_counter(); import {m}; "
            "print(time.perf_counter() - t)")
    out: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(repeats):
        for module in modules:
            done = subprocess.run([sys.executable, "-c", code.format(m=module)],
                                  capture_output=True, text=True, check=True)
            out[module].append(float(done.stdout.strip().splitlines()[-1]))
    return out
