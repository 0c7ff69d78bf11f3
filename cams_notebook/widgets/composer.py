"""The message composer: one form driven by the :class:`~cams_notebook.models.Message` model.

The model is the source of truth: inputs come from :func:`.fields.widget_spec`, every change
is checked by :meth:`Message.check` (and :meth:`Template.check_params`), and each problem is
shown under its field. The look is :mod:`.preview` (pure HTML). The composer is made of
parts, each given what it needs: the form (:class:`.form.Form`: inputs, filling, reading),
the templates it offers (:class:`.template_choices.TemplateChoices`, over the core
catalogue), sending (:class:`.sending.Sending`) and, with ``receipts=``, the delivery
receipts of what it sent (:class:`.receipt_watch.ReceiptWatch`). This module builds the
remaining widgets (``_build``), arranges them (``_layout``), wires them (``_wire``) and shows
the form's state (``_refresh``).

No widget ever holds a credential: the client stays a plain attribute, and the wire preview
shows only the request parameters. Without a client it uses ``Client.from_env()`` once one is
needed; without credentials it still composes and previews (the template picker says why it
is empty) and Send explains what to set instead of raising in the notebook.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ipywidgets as W

from .. import _config as cfg
from ..campaigns.dry_run import window_check
from ..client import Client
from ..models import WIRE_NAMES, Message
from ..problems import Problem
from ..receipts.queue import ReceiptQueue
from ..receipts.store import ReceiptStore
from . import fields as F
from . import preview as P
from . import status_html as S
from .copy_button import CopyButton
from .form import TOP, Form
from .looks import Looks, make_widget
from .looks import show as _show
from .receipt_watch import RECEIPT_POLL_INTERVAL, RECEIPT_POLL_TIMEOUT, ReceiptWatch
from .sending import Result, Sending
from .template_choices import TemplateChoices

if TYPE_CHECKING:  # typing.Self is 3.11+; annotations are never evaluated at runtime
    from typing_extensions import Self

__all__ = ["RECEIPT_POLL_INTERVAL", "RECEIPT_POLL_TIMEOUT", "Composer", "Looks", "make_widget"]


class Composer:
    """A form that builds one CAMS message, previews it live, checks it and sends it.

    >>> from cams_notebook.sandbox import Sandbox
    >>> from cams_notebook.receipts.queue import ReceiptQueue
    >>> client = Sandbox(seed=1, receipt_delay=0).client()
    >>> composer = Composer(client, receipts=ReceiptQueue(client, store=":memory:"))
    >>> composer.set(to="8613900000000", from_="8613800000000",
    ...              template_code="830174529611842305", language="en",
    ...              template_params={"name": "Ada", "order_id": "A-1"})
    Composer(channel='whatsapp', type='template', ready=True)
    >>> composer.send().code
    'OK'

    ``Composer()`` without a client uses ``Client.from_env()``: the real service. For the local
    sandbox say so: ``Composer(Client.sandbox())``. ``receipts=`` (a ``ReceiptQueue``, or a
    ``ReceiptStore`` filled elsewhere) shows the delivery receipts of each message it sends.
    ``inbound=`` (a ``ReceiptStore`` fed from the ChatAppInbound queue, or a function of the
    number, as for ``send_frame``) tells whose WhatsApp 24-hour window is open, so a free-form
    message to a closed window is warned about before Send; without it, the ``receipts=``
    store is asked once it holds inbound messages.
    """

    def __init__(self, client: Client | None = None, *,
                 receipts: ReceiptQueue | ReceiptStore | None = None,
                 inbound: Any = None) -> None:
        if client is not None and inspect.iscoroutinefunction(getattr(client, "send", None)):
            raise TypeError("Composer needs a blocking cams_notebook.Client (it lists templates "
                            "as you type, and sends in the background itself), not an AsyncClient")
        self.looks = Looks()
        self._observers: list[Callable[[Message], object]] = []
        self._data: dict[str, Any] = {}
        self._message: Message | None = None
        self._problems: list[Problem] = []
        self._notified: Message | None = None
        self._build()
        watch = (ReceiptWatch(receipts, self.receipt_view, self.stop_button)
                 if receipts is not None else None)
        self._inbound = window_check(inbound) if inbound is not None else None
        """number -> whether its WhatsApp 24-hour window is open: the campaign dry run's
        check (``window_check``), over ``inbound=``."""
        self._sender = Sending(client, current=lambda: (self._message, self._problems),
                               button=self.send_button, result_view=self.result_view,
                               watch=watch)
        self._watch = watch
        self._form = Form(self.looks, TemplateChoices(lambda: self._sender.client),
                          self._refresh)
        form = self._form
        self.fields: dict[str, W.ValueWidget] = form.fields
        """Inputs by wire name: ``To``, ``TemplateCode``, ``Content.text``,
        ``TemplateParams.name``…"""
        self.errors, self.rows, self.counts = form.errors, form.rows, form.counts
        self.template_note, self.vars_box, self.content_box = (
            form.template_note, form.vars_box, form.content_box)
        self.template_box, self.message_box = form.template_box, form.message_box
        self.widget = self._layout()
        self._wire()
        self._refresh()

    # -- public API --------------------------------------------------------------------------

    @property
    def message(self) -> Message | None:
        """The current message when it is valid, else None."""
        return self._message

    @property
    def problems(self) -> list[Problem]:
        """Everything wrong with the current input; empty when the message can be sent."""
        return list(self._problems)

    @property
    def value(self) -> dict[str, str]:
        """The wire parameters of the current message, or ``{}`` while it is invalid."""
        return self._message.to_query() if self._message is not None else {}

    @property
    def code(self) -> str | None:
        """Python that builds and sends the current message, or None while it is invalid.

        It reaches what this composer reaches: ``Client.sandbox()`` when its client talks
        to a sandbox (in-process, or a loopback server it was given), else
        ``Client.from_env()``."""
        if self._message is None:
            return None
        client = self._sender.given
        sandbox = client is not None and not self._sender.from_env and _is_sandbox(client)
        return S.message_code(self._data, sandbox=sandbox)

    @property
    def client(self) -> Client:
        """The client given, else ``Client.from_env()`` made on first use (see
        :attr:`.sending.Sending.client`)."""
        return self._sender.client

    @property
    def result(self) -> Result | None:
        """The last send's :class:`SendResult`, or the :class:`CamsError` it raised."""
        return self._sender.result

    @property
    def send_task(self) -> asyncio.Task[Result] | None:
        """The task a click on Send started (when a loop runs)."""
        return self._sender.task

    @property
    def receipt_task(self) -> asyncio.Task[str | None] | None:
        """The task watching the last sent message's receipts (with ``receipts=``)."""
        return self._watch.task if self._watch is not None else None

    @property
    def _client(self) -> Client | None:
        return self._sender.given

    @property
    def _sending(self) -> bool:
        return self._sender.busy

    def set(self, **values: Any) -> Self:
        """Fill the form programmatically with Message fields (snake_case or wire names).

        ``type`` follows from the fields when not given; ``content`` may be a dict, a content
        model or JSON text; ``template_params`` a dict.
        """
        self._form.set(**values)
        return self

    def send(self) -> Result:
        """Send the current message now (blocking); returns the result or the CamsError.

        With ``receipts=`` the delivery receipts are then watched (in a task when a loop
        runs, else read once). Raises ValueError when the message is not valid, and
        MissingCredentialsError (its text shown in the result line too) when there is no
        client and no credentials to make one.
        """
        if self._message is None:
            self._reveal()
        return self._sender.send()

    async def send_async(self) -> Result:
        """The asyncio twin of :meth:`send`: the blocking call runs in a worker thread."""
        if self._message is None:
            self._reveal()
        return await self._sender.send_async()

    async def watch_receipts(self, message_id: str, *, interval: float = RECEIPT_POLL_INTERVAL,
                             timeout: float = RECEIPT_POLL_TIMEOUT) -> str | None:
        """Show the delivery status of one message as it changes; the last status."""
        if self._watch is None:
            raise ValueError("this composer has no receipts: pass receipts=ReceiptQueue(client)")
        return await self._watch.watch(message_id, interval=interval, timeout=timeout)

    def stop(self) -> None:
        """Stop watching receipts (the "Stop watching receipts" button); it does not recall
        the message, which CAMS has already accepted."""
        if self._watch is not None:
            self._watch.stop()

    def observe(self, callback: Callable[[Message], object]) -> None:
        """Call ``callback(message)`` whenever a change leaves a valid, different message."""
        self._observers.append(callback)

    def unobserve(self, callback: Callable[[Message], object]) -> None:
        self._observers.remove(callback)

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (f"Composer(channel={self.fields['ChannelType'].value!r}, "
                f"type={self.fields['Type'].value!r}, ready={self._message is not None})")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]

    # -- building, layout, wiring ------------------------------------------------------------

    def _build(self) -> None:
        looks = self.looks
        self.summary, self.general, self.preview = (looks.html_view() for _ in range(3))
        self.send_button = W.Button(description="Send", button_style="primary",
                                    icon="paper-plane")
        self.code_button = CopyButton(description="Copy as code",
                                      tooltip="Copy Python that builds and sends this message")
        self.stop_button = W.Button(description="Stop watching receipts", icon="eye-slash",
                                    layout=W.Layout(display="none", width="auto"),
                                    tooltip="The message is sent already; this only stops "
                                            "following its delivery")
        self.result_view, self.receipt_view = looks.html_view(), looks.html_view()
        self.window_view, self.copy_note = looks.html_view(), looks.html_view()
        self.code_view = looks.html_view(W.Layout(display="none"))
        # stable hooks for the browser tests and for user CSS
        for widget, name in ((self.preview, "preview-pane"), (self.send_button, "send"),
                             (self.stop_button, "stop"), (self.code_button, "copy-code"),
                             (self.result_view, "result-view"),
                             (self.receipt_view, "receipt-view"), (self.summary, "summary-view"),
                             (self.window_view, "window-view"), (self.code_view, "code-view"),
                             (self.copy_note, "copy-note")):
            widget.add_class(f"cams-{name}")

    def _layout(self) -> W.Box:
        rows = self.rows
        self.advanced = W.Accordion(
            children=[W.VBox([rows[WIRE_NAMES[n]] for n in F.ADVANCED])], titles=("Advanced",))
        form = W.VBox([*(rows[WIRE_NAMES[n]] for n in TOP), self.template_box,
                       self.message_box, self.advanced, self.summary, self.window_view,
                       self.general,
                       W.HBox([self.send_button, self.code_button, self.stop_button,
                               self.copy_note], layout=W.Layout(flex_flow="row wrap",
                                                                align_items="center")),
                       self.result_view, self.receipt_view, self.code_view],
                      layout=W.Layout(flex="1 1 55%", min_width="360px"))
        # min_width 0: the preview column may shrink; its wide blocks wrap or scroll inside
        side = W.VBox([self.preview], layout=W.Layout(flex="1 1 45%", min_width="0",
                                                      padding="0 0 0 12px"))
        return W.HBox([form, side], layout=W.Layout(flex_flow="row wrap")).add_class(
            "cams-composer")

    def _wire(self) -> None:
        self.send_button.on_click(self._sender.on_click)
        self.code_button.on_click(self._on_code_click)
        self.stop_button.on_click(lambda _button: self.stop())

    # -- showing the form's state ------------------------------------------------------------

    def _refresh(self) -> None:
        """Re-derive everything from the inputs: structure, problems, preview, Send state."""
        if self._form.hold:
            return
        data, message, problems = self._form.read()
        self._data, self._message, self._problems = data, message, problems
        self._show_problems(problems)
        self._render(data, message)
        self.send_button.disabled = message is None or self._sender.busy
        self.window_view.value = self._window_note(message)
        self._show_result(message)
        code = self.code or ""
        if code != self.code_button.text:  # another message: what was copied is not this one
            self.code_button.text, self.code_button.copied = code, ""
            self.copy_note.value = ""
            _show(self.code_view, False)
        self.code_button.disabled = message is None
        if message is not None and message != self._notified:
            self._notified = message
            for callback in list(self._observers):
                callback(message)

    def _show_problems(self, problems: list[Problem]) -> None:
        """Each problem under its input, once that input was touched (or a send was tried):
        a form just opened, or a template just picked, shows what is left, not red errors."""
        placed: dict[str, list[Problem]] = {}
        general: list[Problem] = []
        touched = self._form.touched
        for p in problems:
            key = self._form.key_for(p.field)
            if key is None:
                general.append(p)
            elif key in touched:
                placed.setdefault(key, []).append(p)
        for key, view in self.errors.items():
            view.value = S.problems_html(placed.get(key, []))
        self.general.value = S.problems_html(general)
        warning = ("the recipient's 24-hour window is closed (see below)"
                   if self._window_closed() else "")
        self.summary.value = S.summary_html(problems, shown=bool(placed or general),
                                            warning=warning)
        advanced = {WIRE_NAMES[n] for n in F.ADVANCED}
        if placed.keys() & advanced:
            self.advanced.selected_index = 0  # open it so the problem is seen; never close it

    def _render(self, data: dict[str, Any], message: Message | None) -> None:
        channel, form = data["channel_type"], self._form
        if data["type"] == "template":
            template = form.template
            bubble = P.template_bubble(channel, template.render(form.params()) if template
                                       else None)
        else:
            bubble = P.content_bubble(channel, data.get("message_type"), form.raw_content())
        sms = P.sms_html(data.get("fall_back_content"), data.get("fall_back_id"))
        wire = P.wire_html(message.to_query() if message is not None else None)
        self.preview.value = P.page_html(bubble, sms, wire)
        for key, view in self.counts.items():
            if key in self.fields:
                view.value = P.count_html(len(self.fields[key].value or ""),
                                          form.specs[key].limit)

    def _reveal(self) -> None:
        """A send was tried: every problem is shown from now on."""
        self._form.touch_all()
        self._show_problems(self._problems)

    def _free_form_whatsapp(self, message: Message | None) -> bool:
        return (message is not None and message.channel_type == "whatsapp"
                and message.type == "message")

    def _window_open(self, number: str) -> bool | None:
        """Whether ``number``'s 24-hour window is open; None when nothing here can tell."""
        if self._inbound is not None:
            return self._inbound(number)
        store = self._watch.store if self._watch is not None else None
        if store is not None and store.inbound():  # it is fed with inbound messages too
            return store.window_open(number)
        return None

    def _window_closed(self) -> bool:
        """Whether the current message is a free-form WhatsApp one to a closed 24-hour
        window: CAMS would accept it, then fail it with 131047."""
        message = self._message
        if message is None or not self._free_form_whatsapp(message):
            return False
        return self._window_open(message.to) is False

    def _window_note(self, message: Message | None) -> str:
        if message is None or not self._free_form_whatsapp(message):
            return ""
        return S.window_html(self._window_open(message.to))

    def _show_result(self, message: Message | None) -> None:
        """The last send's card, marked as the previous message once the form has changed."""
        sender = self._sender
        if sender.busy or sender.result is None or sender.sent is None:
            return
        self.result_view.value = S.result_html(sender.result,
                                               previous=message != sender.sent)

    def _on_code_click(self, button: CopyButton | None) -> None:
        """After a copy in the browser: show the code under the buttons, and what became of
        the copy (the browser may refuse the clipboard; the code shown can be selected)."""
        code = self.code
        if code is None:
            return
        self.code_view.value = S.code_html(code)
        _show(self.code_view, True)
        self.copy_note.value = S.copied_html(button.copied if button is not None else "")


def _is_sandbox(client: Client) -> bool:
    """Whether a client talks to a sandbox: the in-process one, or a loopback server."""
    endpoint = client.account[0]
    return endpoint == cfg.SANDBOX_ENDPOINT or urlsplit(endpoint).hostname in cfg.LOOPBACK_HOSTS
