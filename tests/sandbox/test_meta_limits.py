"""Meta's limits after CAMS accepts a message, as the sandbox imitates them: per-sender
throughput (130429), pair rate (131056), the tier's unique users (131048), and the 131049 and
131050 recipients. Each refusal is an accepted request (``Code: OK``) whose message then gets
one ``Failed`` receipt with the code. Time is the ``clock`` fixture's fake clock.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import pytest

from cams_notebook import Message
from cams_notebook.cli.sandbox import add_arguments, build_core
from cams_notebook.cli.sandbox import main as sandbox_main
from cams_notebook.client import Client
from cams_notebook.receipts.queue import ReceiptQueue
from cams_notebook.sandbox import MAGIC_NUMBERS, MetaLimits, Sandbox
from cams_notebook.testing import FakeClock
from tests.helpers import sandbox_at, template_fields

COEXISTENCE, YELLOW_250 = "8613800000904", "8613800000903"
LIMIT_CODES = {"130429", "131056", "131048"}


def sandbox(clock: FakeClock, **kwargs: Any) -> tuple[Sandbox, Client]:
    """A sandbox on ``clock`` whose account quota stays out of the way (the limits here are
    Meta's, per sender, not CAMS's per account)."""
    sb = sandbox_at(clock, qps=100_000, **kwargs)
    sb.core.duplicate_rate = 0.0  # one receipt per status: the counts below are exact
    return sb, sb.client(clock=clock)


def send(client: Client, **overrides: object) -> str:
    """Send one template message; CAMS accepts it whatever Meta decides later."""
    result = client.send(Message(**template_fields(**overrides)))
    assert result.message_id
    return str(result.message_id)


def fate(sb: Sandbox, message_id: str) -> tuple[list[str], str | None]:
    """The statuses of one message's receipts, and its error code."""
    mine = [r for r in sb.receipts() if r["MessageId"] == message_id]
    return [r["Status"] for r in mine], next((r["ErrorCode"] for r in mine if "ErrorCode" in r),
                                             None)


def limit(sb: Sandbox, message_id: str) -> str | None:
    """The code of the limit that refused the message, or None (it went on to its usual
    fate, which may be the seeded 3 % of 131026)."""
    code = fate(sb, message_id)[1]
    return code if code in LIMIT_CODES else None


def refusals(sb: Sandbox) -> Counter[str]:
    return Counter(r["ErrorCode"] for r in sb.receipts()
                   if r["Status"] == "Failed" and r["ErrorCode"] in LIMIT_CODES)


# -- off by default, on in the realistic profile ----------------------------------------------


def test_every_limit_is_off_by_default_so_a_burst_to_one_person_is_delivered(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, tier="TIER_250")
    assert sb.limits == MetaLimits() and not sb.limits.active
    for i in range(300):  # 300 at one instant, from one sender, 40 of them to one person
        send(client, to="8613911111111" if i < 40 else f"86139{i:08d}")
    assert refusals(sb) == Counter()
    assert sb.core.stats_view()["refusals_by_code"] == {}


def test_the_realistic_profile_switches_every_limit_on_and_an_argument_wins() -> None:
    realistic = Sandbox(profile="realistic").limits
    assert realistic == MetaLimits(sender_mps=80, pair_rate=True, pair_burst=1,
                                   enforce_tiers=True, quality_drops=True)
    edited = Sandbox(profile="realistic", sender_mps=0, pair_rate=False, pair_burst=3).limits
    assert (edited.sender_mps, edited.pair_rate, edited.pair_burst, edited.enforce_tiers) == \
        (None, False, 3, True)
    assert Sandbox(enforce_tiers=True).limits == MetaLimits(enforce_tiers=True)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"profile": "strict"}, "profile must be one of default, realistic, not 'strict'"),
    ({"sender_mps": -1}, "sender_mps must be a whole number >= 0"),
    ({"sender_mps": 2.5}, "sender_mps must be a whole number >= 0"),
    ({"pair_burst": 0}, "pair_burst must be a whole number >= 1"),
    ({"pair_rate": "yes"}, "pair_rate must be True or False"),
])
def test_a_bad_setting_is_refused_naming_it(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Sandbox(**kwargs)


# -- per-sender throughput: 130429 --------------------------------------------------------------


def test_over_the_sender_s_rate_the_request_is_ok_and_the_message_fails_130429(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=5)
    ids = [send(client, to=f"86139{i:08d}") for i in range(8)]  # one instant
    assert [limit(sb, m) for m in ids] == [None] * 5 + ["130429"] * 3
    statuses, _ = fate(sb, ids[-1])
    assert statuses == ["Failed"]  # no Delivered, no Read
    [refused] = [r for r in sb.receipts() if r["MessageId"] == ids[-1]]
    assert refused["ErrorDescription"].startswith("130429:Rate limit hit")
    clock.advance(1.0)  # the window is one second: room again
    assert limit(sb, send(client, to="8613988888888")) is None
    assert sb.core.stats_view()["refusals_by_code"] == {"130429": 3}


def test_the_window_is_exactly_one_second_and_a_refusal_does_not_count_in_it(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=1)
    first = send(client, to="8613900000001")
    clock.advance(0.5)
    refused = send(client, to="8613900000002")
    clock.advance(0.5)  # one second after the first: it has left the window
    again = send(client, to="8613900000003")
    assert [limit(sb, m) for m in (first, refused, again)] == [None, "130429", None]


def test_each_sender_has_its_own_window(clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=2)
    for sender in ("8613800000011", "8613800000012"):
        for i in range(3):
            send(client, from_=sender, to=f"86139{i:08d}")
    assert refusals(sb) == Counter({"130429": 2})


def test_a_client_pacing_at_80_per_second_with_its_margin_is_never_refused(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, profile="realistic")
    start = clock.now
    for i in range(400):  # the toolkit's pacer: 80 in any 1.025 s, evenly spread
        clock.now = start + i * 1.025 / 80
        send(client, to=f"86139{i:08d}")
    assert refusals(sb) == Counter()


def test_a_sender_sending_at_250_per_second_loses_about_two_thirds(clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=80)
    start = clock.now
    for i in range(500):  # two seconds at the account's 250/s
        clock.now = start + i / 250
        send(client, to=f"86139{i:08d}")
    assert refusals(sb) == Counter({"130429": 500 - 2 * 80})


def test_a_coexistence_number_gets_20_per_second_whenever_the_limit_is_on(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=80)
    for i in range(25):
        send(client, from_=COEXISTENCE, to=f"86139{i:08d}")
    assert refusals(sb) == Counter({"130429": 5})
    off, client = sandbox(FakeClock(clock.now))
    for i in range(25):
        send(client, from_=COEXISTENCE, to=f"86139{i:08d}")
    assert refusals(off) == Counter()


def test_a_refused_free_form_message_carries_the_limit_s_code_not_131047(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=1)
    text = {"type": "message", "message_type": "text", "content": {"text": "hi"},
            "template_code": None, "language": None, "template_params": None}
    first, second = (send(client, to="8613900000001", **text),
                     send(client, to="8613900000002", **text))
    assert (fate(sb, first), fate(sb, second)) == ((["Failed"], "131047"),
                                                   (["Failed"], "130429"))


def test_the_toolkit_s_receipt_queue_reads_each_refusal_as_failed_with_its_code(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, sender_mps=1, pair_rate=True)
    ok = send(client, to="8613900000001")
    too_fast = send(client, to="8613900000002")
    clock.advance(2.0)
    same_pair = send(client, to="8613900000001")
    with ReceiptQueue(client, clock=clock, store=":memory:", wait_seconds=1) as queue:
        states = queue.drain(wait_seconds=1, max_polls=5).states()
    assert {m: states[m].failed_code for m in (too_fast, same_pair)} == \
        {too_fast: "130429", same_pair: "131056"}
    assert states[too_fast].status == "failed" and states[ok].failed_code in (None, "131026")


# -- pair rate: 131056 --------------------------------------------------------------------------


def test_a_second_message_to_one_person_within_6_s_fails_131056(clock: FakeClock) -> None:
    sb, client = sandbox(clock, pair_rate=True)
    first = send(client, to="8613900000001")
    other = send(client, to="8613900000002")  # another person: its own pair
    clock.advance(5.9)
    too_soon = send(client, to="8613900000001")
    clock.advance(0.1)  # 6 s after the first; the refused one did not move the pair's time
    in_time = send(client, to="8613900000001")
    assert [limit(sb, m) for m in (first, other, too_soon, in_time)] == \
        [None, None, "131056", None]
    assert fate(sb, too_soon)[0] == ["Failed"]


def test_a_pair_burst_borrows_6_s_per_message_from_the_future(clock: FakeClock) -> None:
    sb, client = sandbox(clock, pair_rate=True, pair_burst=3)
    burst = [send(client, to="8613900000001") for _ in range(4)]
    assert [limit(sb, m) for m in burst] == [None, None, None, "131056"]
    clock.advance(17.9)  # three messages borrowed 18 s
    assert limit(sb, send(client, to="8613900000001")) == "131056"
    clock.advance(0.1)
    assert limit(sb, send(client, to="8613900000001")) is None


# -- the tier's unique users: 131048 ------------------------------------------------------------


def test_beyond_the_tier_s_unique_users_a_template_fails_131048(clock: FakeClock) -> None:
    sb, client = sandbox(clock, enforce_tiers=True, tier="TIER_250")
    for i in range(250):
        send(client, to=f"86139{i:08d}")
    assert refusals(sb) == Counter()
    assert sb.core.judge.unique_users("8613800000000", clock.now) == 250
    over = send(client, to="8613977777777")
    again = send(client, to=f"86139{7:08d}")  # already one of the 250: no new user
    assert (fate(sb, over), limit(sb, again)) == ((["Failed"], "131048"), None)
    [refused] = [r for r in sb.receipts() if r["MessageId"] == over]
    assert "sandbox's code for the tier limit" in refused["ErrorDescription"]


def test_an_open_window_does_not_count_and_the_24_hours_roll(clock: FakeClock) -> None:
    sb, client = sandbox(clock, enforce_tiers=True, tier="TIER_250")
    sb.record_inbound("8613966666666")  # wrote to us: its customer service window is open
    for i in range(250):
        send(client, to=f"86139{i:08d}")
    assert limit(sb, send(client, to="8613966666666")) is None
    clock.advance(12 * 3600)
    assert limit(sb, send(client, to="8613955555555")) == "131048"
    clock.advance(12 * 3600)  # 24 h after the first 250: their room is free again
    assert limit(sb, send(client, to="8613955555555")) is None
    assert sb.core.judge.unique_users("8613800000000", clock.now) == 1


def test_tier_unlimited_never_refuses_and_the_yellow_magic_sender_is_always_tier_250(
        clock: FakeClock) -> None:
    sb, client = sandbox(clock, enforce_tiers=True)  # the sandbox's tier: TIER_UNLIMITED
    for i in range(260):
        send(client, to=f"86139{i:08d}")
        send(client, from_=YELLOW_250, to=f"86139{i:08d}")
    assert refusals(sb) == Counter({"131048": 10})
    assert {r["From"] for r in sb.receipts() if r.get("ErrorCode") == "131048"} == {YELLOW_250}


# -- 131049 and 131050 --------------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "code", "words"), [
    ("failed_131049", "131049", "healthy ecosystem engagement"),
    ("failed_131050", "131050", "stop receiving marketing messages"),
])
def test_the_marketing_cap_and_opt_out_recipients(clock: FakeClock, outcome: str, code: str,
                                                  words: str) -> None:
    number = next(n for n, o in MAGIC_NUMBERS.items() if o == outcome)
    assert number.startswith("155501000")
    sb, client = sandbox(clock)
    message_id = send(client, to=number)
    assert fate(sb, message_id) == (["Failed"], code)
    assert words in sb.receipts()[0]["ErrorDescription"]


# -- the command line -----------------------------------------------------------------------


def limits_from(*argv: str) -> MetaLimits:
    parser = argparse.ArgumentParser(prog="cams-notebook sandbox")
    add_arguments(parser)
    core: Any = build_core(parser.parse_args(list(argv)))
    limits: MetaLimits = core.limits
    return limits


def test_the_command_line_flags_reach_the_core() -> None:
    assert limits_from() == MetaLimits()
    assert limits_from("--profile", "realistic") == MetaLimits.resolve("realistic")
    assert limits_from("--profile", "realistic", "--no-pair-rate", "--sender-mps", "0") == \
        MetaLimits(enforce_tiers=True, quality_drops=True)
    assert limits_from("--sender-mps", "40", "--pair-rate", "--pair-burst", "5",
                       "--enforce-tiers", "--quality-drops") == \
        MetaLimits(sender_mps=40, pair_rate=True, pair_burst=5, enforce_tiers=True,
                   quality_drops=True)


@pytest.mark.parametrize(("argv", "named"), [
    (["--sender-mps", "-3"], "--sender-mps must be a whole number >= 0"),
    (["--pair-burst", "0"], "--pair-burst must be a whole number >= 1"),
    (["--profile", "harsh"], "invalid choice: 'harsh'"),
])
def test_a_bad_limit_flag_exits_2_naming_it(capsys: pytest.CaptureFixture[str],
                                            argv: list[str], named: str) -> None:
    with pytest.raises(SystemExit) as info:
        sandbox_main([*argv, "--port", "0"])
    assert info.value.code == 2
    assert named in capsys.readouterr().err
