"""CPU per row: ``LayeredPacer.reserve`` (account + sender + pair) against ``WindowPacer.reserve``.

    python benchmarks/layered_pacing_cost.py

Pure arithmetic, no I/O: ``time.process_time()`` around batches of reservations with a fake
clock, 100,000 rows per variant in 5 interleaved rounds of 20,000 (median per variant),
each printed against (a) measured in the same run:

  (a) ``WindowPacer(250).reserve(now)``: the account window alone, what the engine does now;
  (b) ``LayeredPacer().reserve(now, sender, recipient)``: WhatsApp, 3 senders at 80/s,
      every row to a new recipient (all three layers, the pair map pruned as it goes);
  (c) the same on Viber (no sender limit, no pair rule): the account layer through the
      layered pacer;
  (d) ``LayeredPacer().schedule(rows, now)`` per row: the fair plan of a batch, 3 senders.

The clock moves on by 4 ms per row, about the account's own pace, so the windows and the
pair map are as full as in a real run. Needs no arguments; takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from _common import cpu_rounds, fmt_spread, median

from cams_notebook.campaigns.layered_pacing import LayeredPacer, PlannedRow
from cams_notebook.campaigns.pacing import WindowPacer

ROUNDS = 5
PER_ROUND = 20_000
"""Rows per variant per round: 5 x 20,000 = 100,000 rows of each variant."""
STEP = 0.004
SENDERS = ("+60100000001", "+60100000002", "+60100000003")


def main() -> None:
    state: dict[str, object] = {}
    recipients = [f"+6012{i:07d}" for i in range(PER_ROUND)]
    rows = [PlannedRow(SENDERS[i % 3], r) for i, r in enumerate(recipients)]

    def fresh_window(_: int) -> None:
        state["window"] = WindowPacer(250)

    def fresh_layered(_: int) -> None:
        state["layered"] = LayeredPacer()

    def window(n: int) -> None:
        pacer = state["window"]
        assert isinstance(pacer, WindowPacer)
        for i in range(n):
            pacer.reserve(i * STEP)

    def layered(channel: str) -> Callable[[int], None]:
        def run(n: int) -> None:
            pacer = state["layered"]
            assert isinstance(pacer, LayeredPacer)
            for i in range(n):
                pacer.reserve(i * STEP, SENDERS[i % 3], recipients[i], channel)
        return run

    def schedule(n: int) -> None:
        pacer = state["layered"]
        assert isinstance(pacer, LayeredPacer)
        pacer.schedule(rows[:n], 0.0)

    variants = {
        "(a) WindowPacer.reserve": window,
        "(b) LayeredPacer.reserve, WhatsApp": layered("whatsapp"),
        "(c) LayeredPacer.reserve, Viber": layered("viber"),
        "(d) LayeredPacer.schedule, per row": schedule,
    }
    prepare = {name: (fresh_window if name.startswith("(a)") else fresh_layered)
               for name in variants}
    figures = cpu_rounds(variants, rounds=ROUNDS, per_round=PER_ROUND, warmup=2_000,
                         prepare=prepare)
    base = median(figures["(a) WindowPacer.reserve"])
    print(f"CPU per row, median of {ROUNDS} rounds of {PER_ROUND:,} rows "
          f"({ROUNDS * PER_ROUND:,} rows per variant)")
    for name, values in figures.items():
        mid = median(values)
        print(f"  {name:38s} {mid * 1e6:7.2f} us {fmt_spread(values):>5s}  "
              f"{mid / base:5.2f}x (a)")


if __name__ == "__main__":
    main()
