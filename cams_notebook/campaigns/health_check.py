"""Asking the service what the health gate decides on: once per campaign, never per row.

:func:`check_health` (blocking :class:`~cams_notebook.client.Client`) and :func:`acheck_health`
(:class:`~cams_notebook.client.AsyncClient`) make the calls and hand the answers to
:func:`~.health_gate.assess`. Which calls, in which order, lives once, in :func:`_questions`, a
generator that yields each question and is sent its answer (the shape of the client's own
flows); the two faces only answer them. For a campaign:

* ``QueryChatappPhoneNumbers`` once (the account's numbers: status, quality, tier);
* ``GetWhatsappHealthStatus`` with ``NodeType=phone`` per WhatsApp sender it lists, and with
  ``NodeType=template`` per WhatsApp template (both need the ``CustSpaceId``);
* ``GetChatappTemplateDetail`` per template, through a
  :class:`~cams_notebook.templates.TemplateCatalogue`: give the dry run's or the campaign's
  and a template it already fetched is not asked again (its ``Template`` carries
  ``AuditStatus``, ``QualityScore`` and ``AllowSend``).

Senders and templates of other channels are skipped: the three operations are WhatsApp's.
Every :class:`~cams_notebook.errors.CamsError` of a call, and a template detail that cannot be
read, becomes that check's answer (a warning in the report), never an exception out of here.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass

from ..client import AsyncClient, Client
from ..errors import CamsError
from ..templates import Template, TemplateCatalogue, template_type
from .health_gate import Answer, HealthAnswers, HealthReport, assess, number_of, phone_listing
from .plan import RowPlan, template_requests

__all__ = ["acheck_health", "campaign_nodes", "check_health"]

WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class _Call:
    action: str
    params: dict[str, str]


@dataclass(frozen=True)
class _Detail:
    code: str
    language: str


_Reply = Answer | Template | None
_Questions = Generator[_Call | _Detail, _Reply, HealthAnswers]


def _whatsapp(senders: Iterable[tuple[str, str]],
              templates: Iterable[tuple[str, ...]]) -> tuple[list[str], list[tuple[str, str]]]:
    numbers = [number_of(n) for channel, n in senders if channel.lower() == WHATSAPP]
    refs = [(t[0], t[1]) for t in templates if len(t) < 3 or t[2].lower() == WHATSAPP]
    return list(dict.fromkeys(numbers)), list(dict.fromkeys(refs))


def campaign_nodes(plans: Iterable[RowPlan]
                   ) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """The ``(channel, sender)`` pairs and ``(code or name, language, channel)`` templates of
    a campaign's valid rows: what :func:`check_health` takes."""
    valid = [p for p in plans if p.valid]
    senders: dict[tuple[str, str], None] = {}
    for plan in valid:
        if plan.message is not None and plan.message.from_:
            senders[(plan.message.channel_type, plan.message.from_)] = None
    return list(senders), sorted(template_requests(valid))


def _questions(numbers: list[str], refs: list[tuple[str, str]],
               cust_space_id: str | None) -> _Questions:
    answers = HealthAnswers(cust_space_id=cust_space_id)
    space = {"CustSpaceId": cust_space_id} if cust_space_id else {}
    if numbers:
        answers.phone_numbers = listing = _answer((yield _Call("QueryChatappPhoneNumbers",
                                                               dict(space))))
        listed = phone_listing(listing)
        for number in numbers if space else []:
            if isinstance(listed, str) or number in listed:  # an unlisted one is refused anyway
                answers.phones[number] = _answer((yield _Call(
                    "GetWhatsappHealthStatus", {"NodeType": "phone", "PhoneNumber": number,
                                                **space})))
    for ref in refs:
        detail = yield _Detail(*ref)
        if not (detail is None or isinstance(detail, (Template, CamsError))):
            raise TypeError(f"a template's detail is a Template, not {type(detail).__name__}")
        answers.details[ref] = detail
        if space and isinstance(detail, Template):
            answers.template_status[ref] = _answer((yield _Call(
                "GetWhatsappHealthStatus", {"NodeType": "template", "TemplateCode":
                                            detail.template_code, "Language": detail.language,
                                            **space})))
    return answers


_UNREADABLE = (ValueError, KeyError, TypeError)
"""What reading a template's detail raises when the answer is not one (pydantic's
ValidationError is a ValueError)."""


def _unreadable(error: Exception) -> CamsError:
    return CamsError(f"the answer cannot be read ({type(error).__name__}: {error})")


def _answer(reply: _Reply) -> Answer:
    """A call's reply: its decoded answer, or the error that came instead."""
    if not isinstance(reply, (Mapping, CamsError)):
        raise TypeError(f"a call's answer is a mapping, not {type(reply).__name__}")
    return reply


def check_health(client: Client, *, senders: Iterable[tuple[str, str]],
                 cust_space_id: str | None, templates: Iterable[tuple[str, ...]] = (),
                 catalogue: TemplateCatalogue | None = None) -> HealthReport:
    """The health gate's report on a campaign's ``senders`` (``(channel, number)``) and
    ``templates`` (``(code or name, language[, channel])``), asked of ``client`` once each.

    ``catalogue`` is the campaign's template catalogue (one is made when None). Raises nothing
    for a failed call: the report says what could not be checked.

    >>> report = check_health(client, senders=[("whatsapp", "8613800000000")],
    ...                       cust_space_id="cams-sandbox")            # doctest: +SKIP
    >>> report.raise_for_refusals()                                      # doctest: +SKIP
    """
    numbers, refs = _whatsapp(senders, templates)
    catalogue = catalogue if catalogue is not None else TemplateCatalogue(client)
    flow = _questions(numbers, refs, cust_space_id)
    try:
        question = next(flow)
        while True:
            reply: _Reply
            try:
                reply = client.call(question.action, question.params) \
                    if isinstance(question, _Call) else \
                    catalogue.get(question.code, question.language, template_type(WHATSAPP))
            except CamsError as error:
                reply = error
            except _UNREADABLE as error:  # a detail the Template model cannot take
                reply = _unreadable(error)
            question = flow.send(reply)
    except StopIteration as done:
        return assess(done.value, senders=numbers, templates=refs)


async def acheck_health(client: AsyncClient, *, senders: Iterable[tuple[str, str]],
                        cust_space_id: str | None, templates: Iterable[tuple[str, ...]] = (),
                        catalogue: TemplateCatalogue | None = None) -> HealthReport:
    """The asyncio twin of :func:`check_health`."""
    numbers, refs = _whatsapp(senders, templates)
    catalogue = catalogue if catalogue is not None else TemplateCatalogue(client)
    flow = _questions(numbers, refs, cust_space_id)
    try:
        question = next(flow)
        while True:
            reply: _Reply
            try:
                reply = await client.call(question.action, question.params) \
                    if isinstance(question, _Call) else \
                    await catalogue.aget(question.code, question.language,
                                         template_type(WHATSAPP))
            except CamsError as error:
                reply = error
            except _UNREADABLE as error:  # a detail the Template model cannot take
                reply = _unreadable(error)
            question = flow.send(reply)
    except StopIteration as done:
        return assess(done.value, senders=numbers, templates=refs)
