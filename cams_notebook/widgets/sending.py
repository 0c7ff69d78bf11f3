"""Sending the composed message: the client, the blocking and asyncio sends, the result line.

A part of :class:`~.composer.Composer`, which delegates ``send()``, ``send_async()`` and
``client`` to it. A click on Send runs the send in an asyncio task when a loop is running
(as in ipykernel), so the notebook stays responsive; otherwise it sends synchronously. With
a :class:`~.receipt_watch.ReceiptWatch` the delivery receipts of a sent message are then
watched.

Without a client the composer uses ``Client.from_env()`` on first need. Without credentials
that is a :class:`~cams_notebook.errors.MissingCredentialsError`, never the sandbox: the form
still composes and previews, and Send shows the error's text in the result line (what to set,
or ``Composer(Client.sandbox())``) instead of a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import ipywidgets as W

from ..client import Client
from ..errors import CamsError, MissingCredentialsError
from ..models import Message, SendResult
from ..problems import Problem
from . import status_html as S
from .receipt_watch import ReceiptWatch

__all__ = ["COMPOSER_SANDBOX_HINT", "Result", "Sending"]

COMPOSER_SANDBOX_HINT = ("give the composer a client: Composer(Client.sandbox()) for the local "
                         "sandbox (nothing leaves this machine)")
"""How a composer without a client and without credentials says to get the sandbox."""

Result = SendResult | CamsError


class Sending:
    """Send for one form: ``current()`` gives its message (None while invalid) and problems;
    ``button`` is disabled while a send runs; the outcome goes in ``result_view``."""

    def __init__(self, client: Client | None, *,
                 current: Callable[[], tuple[Message | None, list[Problem]]],
                 button: W.Button, result_view: W.HTML,
                 watch: ReceiptWatch | None = None) -> None:
        self.given = client
        """The client as given, or as made from the environment on first use."""
        self.from_env = False
        """True once the client was made by ``Client.from_env()``."""
        self._current = current
        self.button, self.result_view, self.watch = button, result_view, watch
        self.busy = False
        self.result: Result | None = None
        self.sent: Message | None = None
        """The message of the last send (its result is :attr:`result`)."""
        self.task: asyncio.Task[Result] | None = None

    @property
    def client(self) -> Client:
        """The client given, else ``Client.from_env()`` made on first use.

        Without credentials that raises :class:`~cams_notebook.errors.MissingCredentialsError`
        (the local sandbox is asked for by name: ``Composer(Client.sandbox())``).
        """
        if self.given is None:
            try:
                self.given = Client.from_env()
            except MissingCredentialsError as exc:
                raise MissingCredentialsError(missing=exc.missing,
                                              hint=COMPOSER_SANDBOX_HINT) from None
            self.from_env = True
        return self.given

    def send(self) -> Result:
        """Send the current message now (blocking); see ``Composer.send``."""
        client, message = self._start()
        try:
            result: Result = client.send(message)
        except CamsError as exc:
            result = exc
        except BaseException as exc:  # a bug or a cancelled task: say so, then let it go
            self._finish(exc)
            raise
        self._finish(result)
        return result

    async def send_async(self) -> Result:
        """The asyncio twin of :meth:`send`: the blocking call runs in a worker thread."""
        client, message = self._start()
        try:
            result: Result = await asyncio.to_thread(client.send, message)
        except CamsError as exc:
            result = exc
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(result)
        return result

    def on_click(self, _button: W.Button | None) -> None:
        """The Send button: a task on the running loop, else a blocking send."""
        try:
            self._client_or_show_why()
        except MissingCredentialsError:
            return  # said in the result line; a traceback under the widget would say no more
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.send()
            return
        self.task = loop.create_task(self.send_async())

    def _start(self) -> tuple[Client, Message]:
        if self.busy:
            raise RuntimeError("a send is already in progress")
        message, problems = self._current()
        if message is None:
            raise ValueError("the message is not ready to send: " + " ".join(
                f"{S.field_label(p.field)}: {S.problem_text(p)}" for p in problems))
        client = self._client_or_show_why()
        if self.watch is not None:
            self.watch.clear()
        self.sent = message
        self.busy = True
        self.button.disabled = True
        self.result_view.value = "<i>Sending…</i>"
        return client, message

    def _client_or_show_why(self) -> Client:
        """:attr:`client`; when there is none to be had, its reason goes in the result line
        (where a send's outcome goes) before the error is raised."""
        try:
            return self.client
        except MissingCredentialsError as exc:
            if self.watch is not None:
                self.watch.clear()
            self.result_view.value = S.result_html(exc)
            raise

    def _finish(self, result: Result | BaseException) -> None:
        self.busy = False
        self.button.disabled = self._current()[0] is None
        self.result_view.value = S.result_html(result)
        if not isinstance(result, (SendResult, CamsError)):
            return
        self.result = result
        if isinstance(result, SendResult) and result.message_id and self.watch is not None:
            self.watch.start(result.message_id)
