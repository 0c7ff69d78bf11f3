"""The sandbox: a faithful local CAMS, used only when asked for (``Client.sandbox()``,
``--sandbox``).

CAMS has no test mode and cannot be reached from here, so the toolkit brings its own:
one :class:`~.core.SandboxCore` (signatures, rate limit, request and template rules,
receipts, faults) with two faces, an in-process httpx transport
(:class:`~.transport.SandboxTransport`) and a loopback HTTP server
(:class:`~.server.SandboxServer`, also ``cams-notebook sandbox``).

>>> from cams_notebook.sandbox import Sandbox
>>> sandbox = Sandbox(seed=1)
>>> client = sandbox.client()
>>> sandbox.templates()[0]["TemplateName"]
'order_shipped'

Meta's side, off by default and on with ``Sandbox(profile="realistic")`` (``--profile
realistic``): after accepting a WhatsApp message the sandbox judges it as Meta would, and a
message over a limit gets a ``Failed`` receipt with Meta's code instead of its delivery:

>>> sandbox = Sandbox(profile="realistic", tier="TIER_250")
>>> sandbox.limits.describe()
'sender 80/s, pair rate (burst 1), tiers enforced, quality drops'

=================  ====================  =================================================
argument           flag                  what (realistic profile's value)
=================  ====================  =================================================
``sender_mps``     ``--sender-mps N``    messages/s per sender, else Failed 130429 (80;
                                         0 = off; a coexistence number 20)
``pair_rate``      ``--pair-rate``       one message per 6 s per sender and user, else
                                         Failed 131056 (on)
``pair_burst``     ``--pair-burst N``    messages a pair may send within 6 s (1)
``enforce_tiers``  ``--enforce-tiers``   the tier's unique users per 24 h, else Failed
                                         131048 (on; the sandbox's choice of code)
``quality_drops``  ``--quality-drops``   a sender with 20 % refusals in 100 messages falls
                                         GREEN to YELLOW to RED (on)
=================  ====================  =================================================

An argument given explicitly wins over the profile. Ratings and template statuses change with
:meth:`Sandbox.set_quality`, :meth:`Sandbox.pause_template` and the others, and by themselves
(quality drops; the magic sender ``8613800000905``); each change is a ChatAppAudit event on the
``ChatAppAudit`` queue and the status callback URL, listed by :meth:`Sandbox.audit_events`
(:mod:`.audit_events`, :mod:`.meta_limits`).

Default key pair (public on purpose): AccessKeyId ``sandbox-access-key-id``, secret
``sandbox-access-key-secret``. Messages sent without a ``CustSpaceId`` belong to the space
:data:`DEFAULT_CUST_SPACE_ID` (``"cams-sandbox"``): pass it where ``ListChatappMessage`` or
``reconcile(cust_space_id=...)`` needs one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._config import SANDBOX_URL
from . import catalogue, outcomes
from ._defaults import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from .core import DEFAULT_CUST_SPACE_ID, SandboxCore
from .meta_limits import PROFILES, MetaLimits
from .number_health import DEFAULT_TIER, TIERS
from .outcomes import MAGIC_NUMBERS, MAGIC_SENDERS
from .transport import SandboxTransport

# The magic numbers and fault profiles are documented once, in outcomes.py.
__doc__ = (__doc__ or "") + "\n" + (outcomes.__doc__ or "").split("\n", 1)[1]

if TYPE_CHECKING:
    from ..client import AsyncClient, Client
    from .server import SandboxServer

__all__ = ["DEFAULT_ACCESS_KEY_ID", "DEFAULT_ACCESS_KEY_SECRET", "DEFAULT_CUST_SPACE_ID",
           "DEFAULT_TIER", "MAGIC_NUMBERS", "MAGIC_SENDERS", "PROFILES", "TIERS", "MetaLimits",
           "Sandbox", "SandboxCore", "SandboxTransport", "default_sandbox"]


class Sandbox:
    """A local CAMS: make clients for it, serve it on loopback, and look inside it."""

    def __init__(
        self,
        *,
        access_key_id: str = DEFAULT_ACCESS_KEY_ID,
        access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
        qps: int = 250,
        latency_ms: tuple[float, float] = (0.0, 0.0),
        faults: str = "none",
        seed: int = 0,
        callback_url: str | None = None,
        clock: Callable[[], float] = time.time,
        receipt_delay: float = 1.0,
        receipt_order: str = "due",
        tier: str = DEFAULT_TIER,
        phone_numbers: Iterable[str] = (),
        profile: str = "default",
        sender_mps: int | None = None,
        pair_rate: bool | None = None,
        pair_burst: int = 1,
        enforce_tiers: bool | None = None,
        quality_drops: bool | None = None,
        core: SandboxCore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``sleep``/``asleep`` are how the in-process transport waits out the simulated
        latency, hangs and slow answers (sync and async clients); a fake clock's own (see
        :class:`cams_notebook.testing.FakeClock`) makes those waits free and moves that clock.

        ``tier`` is every sender number's ``MessagingLimitTier`` (``TIER_250`` up to
        ``TIER_UNLIMITED``), but for the magic senders that have their own
        (:mod:`.number_health`). ``phone_numbers`` are the account's WhatsApp numbers
        besides the default sender and the magic ones: ``QueryChatappPhoneNumbers`` lists
        them (so a campaign's health check knows them) before they have sent anything.

        ``profile`` (``"default"``: none; ``"realistic"``: all) and ``sender_mps``,
        ``pair_rate``, ``pair_burst``, ``enforce_tiers``, ``quality_drops`` choose which of
        Meta's limits it imitates after accepting a message (see the module); an argument
        given (not None) wins over the profile. A bad value is a ValueError naming it."""
        limits = MetaLimits.resolve(profile, sender_mps=sender_mps, pair_rate=pair_rate,
                                    pair_burst=pair_burst, enforce_tiers=enforce_tiers,
                                    quality_drops=quality_drops)
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.core = core or SandboxCore(
            keys={access_key_id: access_key_secret}, qps=qps,
            latency=(latency_ms[0] / 1000.0, latency_ms[1] / 1000.0), faults=faults, seed=seed,
            callback_url=callback_url, clock=clock, receipt_delay=receipt_delay,
            receipt_order=receipt_order, tier=tier, limits=limits, phone_numbers=phone_numbers)
        self._transport = SandboxTransport(self.core, sleep=sleep, async_sleep=asleep)
        self._server: SandboxServer | None = None

    def __repr__(self) -> str:
        return (f"Sandbox(access_key_id={self.access_key_id!r}, qps={self.core.qps}, "
                f"faults={self.core.faults!r})")

    @property
    def limits(self) -> MetaLimits:
        """Which of Meta's limits this sandbox imitates."""
        return self.core.limits

    @property
    def transport(self) -> SandboxTransport:
        """The in-process httpx transport (sync and async)."""
        return self._transport

    def client_kwargs(self, *, is_async: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``Client``/``AsyncClient`` that reach this sandbox in-process."""
        return {"access_key_id": self.access_key_id, "access_key_secret": self._secret,
                "transport": self._transport, "endpoint": SANDBOX_URL}

    def client(self, **overrides: Any) -> Client:
        """A blocking client wired to this sandbox, in-process."""
        from ..client import Client

        return Client(**{**self.client_kwargs(), **overrides})

    def async_client(self, **overrides: Any) -> AsyncClient:
        """An asyncio client wired to this sandbox, in-process."""
        from ..client import AsyncClient

        return AsyncClient(**{**self.client_kwargs(is_async=True), **overrides})

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """Start the loopback HTTP server for this sandbox (in a background thread)."""
        from .server import SandboxServer

        if self._server is None:
            self._server = SandboxServer(self.core, host=host, port=port).start()
        return self._server

    def stop(self) -> None:
        """Stop the loopback server, if one runs."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    # -- inspection -------------------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message (time, AccessKey id, To, MessageId, TaskId, parameters)."""
        return self.core.messages()

    def receipts(self) -> list[dict[str, Any]]:
        """Every delivery receipt due by now, in the ChatAppStatus format, duplicates and
        refusals (a ``Failed`` receipt with 130429, 131056, 131048...) included. ChatAppAudit
        events are a separate list: :meth:`audit_events`."""
        return self.core.receipts()

    def audit_events(self) -> list[dict[str, Any]]:
        """Every ChatAppAudit event so far (V2 with ``Type``, V1 template results without)."""
        return self.core.audit_events()

    def set_quality(self, number: str, rating: str) -> dict[str, Any] | None:
        """Rate sender ``number`` (GREEN, YELLOW, RED, UNKNOWN) as Meta would: what
        QueryChatappPhoneNumbers and GetWhatsappHealthStatus answer for it changes, and a
        ``phoneQualityUpdate`` event goes out (returned; None when the rating is unchanged)."""
        return self.core.set_quality(number, rating)

    def pause_template(self, code: str, language: str,
                       reason: str = "Paused for low quality: recipients blocked or reported "
                                     "it.") -> dict[str, Any] | None:
        """Pause a template as Meta does: GetChatappTemplateDetail answers ``AuditStatus``
        ``paused`` and ``AllowSend`` false, sends of it are refused, and the V1 audit event goes
        out (returned; None when it was already paused)."""
        return self.core.set_template_status(code, language, "paused", reason)

    def set_template_status(self, code: str, language: str, status: str,
                            reason: str = "") -> dict[str, Any] | None:
        """Give a template any ``AuditStatus`` (``pass`` resumes a paused one); the V1 event."""
        return self.core.set_template_status(code, language, status, reason)

    def set_template_quality(self, code: str, language: str, score: str) -> dict[str, Any] | None:
        """Give a template a ``QualityScore``; the ``templateQualityUpdate`` event."""
        return self.core.set_template_quality(code, language, score)

    def record_inbound(self, number: str, text: str = "hi") -> dict[str, Any]:
        """Pretend ``number`` wrote to us: opens its WhatsApp 24-hour window."""
        return self.core.record_inbound(number, text=text)

    def reset(self) -> None:
        """Forget every message, receipt, audit event, rate window, rating and template
        status set."""
        self.core.reset()

    @staticmethod
    def templates() -> list[dict[str, Any]]:
        """The sandbox's template catalogue, as ListChatappTemplate rows."""
        return catalogue.list_rows()


_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The process-wide sandbox behind ``Client.sandbox()`` and the CLI's ``--sandbox``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default
