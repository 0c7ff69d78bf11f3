"""What Meta decides after CAMS accepts a WhatsApp message: the per-sender throughput, the pair
rate and the messaging-limit tier (reference ``platform_rules.md`` sections 1 to 3).

CAMS accepts the request (``Code: OK``) either way; a message over one of these limits then
gets a ``Failed`` ChatAppStatus receipt with Meta's code, and nothing after it:

=========  ===========================================================================
code       when (each limit is a setting; all are off unless asked for)
=========  ===========================================================================
130429     ``sender_mps``: the sender (``From``) already had that many messages pass in the
           last second (a sliding window of exactly 1 s on the sandbox clock, counted when
           the sandbox accepts each message; a coexistence number, ``8613800000904``, never
           more than 20/s). A message refused here does not count in the window.
131056     ``pair_rate``: the same sender messaged the same recipient less than 6 s ago.
           The rule: each message that passes moves the pair's *free time* 6 s later (from
           now, or from the free time if that is later). A message at or after the free time
           passes and starts a burst; before it, it passes only while the burst holds fewer
           than ``pair_burst`` messages. So with the default ``pair_burst=1`` any second
           message within 6 s is refused, and after a burst of 20 the pair waits 2 minutes.
131048     ``enforce_tiers``: a template message to a recipient who is not among the
           sender's unique recipients of the last rolling 24 h and has no open customer
           service window, when the sender has already reached its tier's number of unique
           users (``TIER_250`` 250, ``TIER_2K`` 2,000, ``TIER_10K`` 10,000, ``TIER_100K``
           100,000; ``TIER_UNLIMITED`` never refuses). The reference gives no code for this;
           131048 ("spam rate limit hit") is the sandbox's choice. The tier is the sender's
           (``tier`` for every sender, ``8613800000903`` always ``TIER_250``).
=========  ===========================================================================

Only messages that pass every limit count as sent to a pair or as a unique user. The checks
run in the order of the table; only WhatsApp messages are judged (the other channels have no
such limits here).

Automatic quality drops (``quality_drops``): of a sender's last 100 judged messages, when 20 %
or more were refused with 130429 or 131048, its quality rating falls one step (GREEN to
YELLOW, YELLOW to RED; :mod:`.audit_events` emits ``phoneQualityUpdate``) and a fresh sample
of 100 decides the next step. It never rises again by itself.

Profiles: ``"default"`` switches nothing on (today's behaviour); ``"realistic"`` switches on
``sender_mps=80``, ``pair_rate``, ``enforce_tiers`` and ``quality_drops``. An argument given
explicitly wins over the profile (``sender_mps=0`` turns the sender limit off again).

Hand-written rather than a rate-limit library's: these are not limits the sandbox waits out,
but verdicts on the sandbox's own clock about messages already accepted, and each needs its
own rule (a window that counts only what passed, a pair rate with borrowing, a 24-hour set).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from .number_health import TIERS, sender_health

__all__ = ["COEXISTENCE_MPS", "PAIR_INTERVAL", "PROFILES", "QUALITY_REFUSAL_SHARE",
           "QUALITY_SAMPLE", "REFUSAL_CODES", "TIER_LIMITS", "UNIQUE_USER_WINDOW", "MetaJudge",
           "MetaLimits", "Verdict"]

PROFILES: dict[str, dict[str, Any]] = {
    "default": {"sender_mps": None, "pair_rate": False, "enforce_tiers": False,
                "quality_drops": False},
    "realistic": {"sender_mps": 80, "pair_rate": True, "enforce_tiers": True,
                  "quality_drops": True},
}
"""Profile name -> the limits it switches on (arguments given explicitly win)."""
COEXISTENCE_MPS = 20
"""Messages per second of a number shared with the WhatsApp Business app."""
PAIR_INTERVAL = 6.0
"""Seconds one message to a pair borrows: about one message every 6 s per sender and user."""
UNIQUE_USER_WINDOW = 24 * 3600.0
"""The moving window of the unique-user allowance, in seconds."""
TIER_LIMITS: dict[str, int | None] = dict(zip(TIERS, (250, 2_000, 10_000, 100_000, None),
                                             strict=True))
"""Unique users per rolling 24 h of each tier (None: no limit)."""
QUALITY_SAMPLE = 100
"""Judged messages in the sample that decides an automatic quality drop."""
QUALITY_REFUSAL_SHARE = 0.20
"""Share of refused messages in the sample at which the quality rating falls a step."""
REFUSAL_CODES = frozenset({"130429", "131048"})
"""Refusals that count against a sender's quality."""
_WINDOW = 1.0


@dataclass(frozen=True, slots=True)
class MetaLimits:
    """Which of Meta's limits the sandbox imitates; build it with :meth:`resolve`.

    >>> MetaLimits.resolve("realistic", sender_mps=0).sender_mps is None
    True
    """

    sender_mps: int | None = None
    """Messages per second per sender number; None: no limit."""
    pair_rate: bool = False
    pair_burst: int = 1
    """Messages a pair may send within 6 s before the next one is refused (see the module)."""
    enforce_tiers: bool = False
    quality_drops: bool = False

    @classmethod
    def resolve(cls, profile: str = "default", *, sender_mps: int | None = None,
                pair_rate: bool | None = None, pair_burst: int = 1,
                enforce_tiers: bool | None = None,
                quality_drops: bool | None = None) -> MetaLimits:
        """The limits of ``profile`` with every argument given (not None) put over them.

        ``sender_mps`` 0 means off; a bad value is a ValueError naming the argument.
        """
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
        base = PROFILES[profile]
        mps = (base["sender_mps"] or 0) if sender_mps is None else sender_mps
        if isinstance(mps, bool) or not isinstance(mps, int) or mps < 0:
            raise ValueError(f"sender_mps must be a whole number >= 0 (0 = off), not {mps!r}")
        if isinstance(pair_burst, bool) or not isinstance(pair_burst, int) or pair_burst < 1:
            raise ValueError(f"pair_burst must be a whole number >= 1, not {pair_burst!r}")
        flags = {"pair_rate": pair_rate, "enforce_tiers": enforce_tiers,
                 "quality_drops": quality_drops}
        for name, value in flags.items():
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, not {value!r}")
        chosen = {name: base[name] if value is None else value for name, value in flags.items()}
        return cls(sender_mps=mps or None, pair_burst=pair_burst, **chosen)

    @property
    def active(self) -> bool:
        """Whether any limit is on."""
        return bool(self.sender_mps or self.pair_rate or self.enforce_tiers
                    or self.quality_drops)

    def describe(self) -> str:
        """One line for people: the limits that are on."""
        parts = [f"sender {self.sender_mps}/s" if self.sender_mps else "",
                 f"pair rate (burst {self.pair_burst})" if self.pair_rate else "",
                 "tiers enforced" if self.enforce_tiers else "",
                 "quality drops" if self.quality_drops else ""]
        return ", ".join(p for p in parts if p) or "none"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Meta's verdict on one message: the refusal code (None: it passes), and whether the
    sender's quality falls a step because of it."""

    code: str | None = None
    quality_drop: bool = False


@dataclass(slots=True)
class _Pair:
    free_at: float
    burst: int


class MetaJudge:
    """Each sender's recent messages, pairs and unique users, and the verdict on each new
    message. Not thread-safe on its own: the core calls it under its lock."""

    def __init__(self, limits: MetaLimits) -> None:
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        self._passed: dict[str, deque[float]] = {}
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._reached: dict[str, OrderedDict[str, float]] = {}
        """Per sender, recipient -> time of the last message that passed, oldest first."""
        self._sample: dict[str, deque[bool]] = {}

    def judge(self, sender: str, to: str, *, template: bool, window_open: bool, tier: str,
              now: float) -> Verdict:
        """The verdict on a WhatsApp message from ``sender`` to ``to`` accepted at ``now``."""
        code = self._throughput(sender, now) or self._pair_refusal(sender, to, now)
        if code is None and template and not window_open:
            code = self._tier_refusal(sender, to, tier, now)
        if code is None:
            self._passed_pair(sender, to, now)
        return Verdict(code, self._quality(sender, code))

    def unique_users(self, sender: str, now: float) -> int:
        """Unique recipients ``sender`` reached in the last 24 h (counted while tiers are
        enforced)."""
        return len(self._fresh(sender, now))

    def _throughput(self, sender: str, now: float) -> str | None:
        limit = self.limits.sender_mps
        if not limit:
            return None
        if sender_health(sender).throughput == COEXISTENCE_MPS:
            limit = min(limit, COEXISTENCE_MPS)
        window = self._passed.setdefault(sender, deque())
        while window and window[0] <= now - _WINDOW:
            window.popleft()
        if len(window) >= limit:
            return "130429"
        window.append(now)
        return None

    def _pair_refusal(self, sender: str, to: str, now: float) -> str | None:
        if not self.limits.pair_rate:
            return None
        pair = self._pairs.get((sender, to))
        if pair is None or now >= pair.free_at or pair.burst < self.limits.pair_burst:
            return None
        return "131056"

    def _passed_pair(self, sender: str, to: str, now: float) -> None:
        if not self.limits.pair_rate:
            return
        pair = self._pairs.get((sender, to))
        if pair is None or now >= pair.free_at:
            self._pairs[(sender, to)] = _Pair(now + PAIR_INTERVAL, 1)
        else:
            pair.free_at += PAIR_INTERVAL
            pair.burst += 1

    def _fresh(self, sender: str, now: float) -> OrderedDict[str, float]:
        reached = self._reached.setdefault(sender, OrderedDict())
        while reached and next(iter(reached.values())) <= now - UNIQUE_USER_WINDOW:
            reached.popitem(last=False)
        return reached

    def _tier_refusal(self, sender: str, to: str, tier: str, now: float) -> str | None:
        if not self.limits.enforce_tiers:
            return None
        reached = self._fresh(sender, now)
        limit = TIER_LIMITS[tier]
        if to not in reached and limit is not None and len(reached) >= limit:
            return "131048"
        reached[to] = now
        reached.move_to_end(to)  # the oldest contact stays first
        return None

    def _quality(self, sender: str, code: str | None) -> bool:
        if not self.limits.quality_drops:
            return False
        sample = self._sample.setdefault(sender, deque(maxlen=QUALITY_SAMPLE))
        sample.append(code in REFUSAL_CODES)
        if len(sample) < QUALITY_SAMPLE or sum(sample) < QUALITY_REFUSAL_SHARE * QUALITY_SAMPLE:
            return False
        sample.clear()  # a fresh sample decides the next step
        return True
