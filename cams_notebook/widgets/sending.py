"""Sending one composed message, and watching its delivery receipts.

Part of :class:`~.composer.Composer` (a mixin, so ``composer.send()`` and friends stay where a
user looks for them). A click on Send runs the send in an asyncio task when a loop is running
(as in ipykernel), so the notebook stays responsive and Stop is processed; otherwise it sends
synchronously. Against the sandbox it then watches the delivery receipts of that message.

Without a client the composer uses ``Client.from_env()`` on first need. Without credentials
that is a :class:`~cams_notebook.errors.MissingCredentialsError`, never the sandbox: the form
still composes and previews, and Send shows the error's text in the result line (what to set,
or ``Composer(Client.sandbox())``) instead of a traceback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as W

from ..client import Client
from ..errors import CamsError, MissingCredentialsError
from ..models import Message, SendResult
from ..problems import Problem
from . import preview as P
from .looks import show as _show

__all__ = ["COMPOSER_SANDBOX_HINT", "RECEIPT_POLL_INTERVAL", "RECEIPT_POLL_TIMEOUT", "Result",
           "Sending"]

RECEIPT_POLL_INTERVAL = 0.5
"""Seconds between two looks at the sandbox's receipts."""
RECEIPT_POLL_TIMEOUT = 30.0
"""Seconds after which watching the receipts of one message stops."""

COMPOSER_SANDBOX_HINT = ("give the composer a client: Composer(Client.sandbox()) for the local "
                         "sandbox (nothing leaves this machine)")
"""How a composer without a client and without credentials says to get the sandbox."""

_FINAL = frozenset({"Read", "Failed"})

Result = SendResult | CamsError


class Sending:
    """The composer's Send and Stop: the blocking and asyncio sends, and receipt watching."""

    # provided by the Composer
    _client: Client | None
    _message: Message | None
    _problems: list[Problem]
    _sending: bool
    send_button: W.Button
    stop_button: W.Button
    result_view: W.HTML
    receipt_view: W.HTML
    result: Result | None
    send_task: asyncio.Task[Result] | None
    receipt_task: asyncio.Task[str | None] | None

    @property
    def client(self) -> Client:
        """The client given to the composer, else ``Client.from_env()`` made on first use.

        Without credentials that raises :class:`~cams_notebook.errors.MissingCredentialsError`
        (the local sandbox is asked for by name: ``Composer(Client.sandbox())``).
        """
        if self._client is None:
            try:
                self._client = Client.from_env()
            except MissingCredentialsError as exc:
                raise MissingCredentialsError(missing=exc.missing,
                                              hint=COMPOSER_SANDBOX_HINT) from None
        return self._client

    def send(self) -> Result:
        """Send the current message now (blocking); returns the result or the CamsError.

        Against the sandbox the delivery receipts are then watched (in a task when a loop
        runs, else read once). Raises ValueError when the message is not valid, and
        MissingCredentialsError (its text shown in the result line too) when there is no
        client and no credentials to make one.
        """
        client, message = self._start_send()
        try:
            result: Result = client.send(message)
        except CamsError as exc:
            result = exc
        except BaseException as exc:  # a bug or a cancelled task: say so, then let it go
            self._finish_send(exc)
            raise
        self._finish_send(result)
        return result

    async def send_async(self) -> Result:
        """The asyncio twin of :meth:`send`: the blocking call runs in a worker thread."""
        client, message = self._start_send()
        try:
            result: Result = await asyncio.to_thread(client.send, message)
        except CamsError as exc:
            result = exc
        except BaseException as exc:
            self._finish_send(exc)
            raise
        self._finish_send(result)
        return result

    async def watch_receipts(self, message_id: str, *, interval: float = RECEIPT_POLL_INTERVAL,
                             timeout: float = RECEIPT_POLL_TIMEOUT) -> str | None:
        """Show the sandbox's delivery status of one message as it changes; the last status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        events: list[dict[str, Any]] = []
        state = "stopped"
        _show(self.stop_button, True)
        try:
            while True:
                events = self._receipts_for(message_id)
                if any(e.get("Status") in _FINAL for e in events):
                    state = ""
                    break
                if loop.time() >= deadline:
                    state = "timeout"
                    break
                self.receipt_view.value = P.receipts_html(events, "watching")
                await asyncio.sleep(interval)
        finally:
            self.receipt_view.value = P.receipts_html(events, state)
            _show(self.stop_button, False)
        return str(events[-1].get("Status")) if events else None

    def stop(self) -> None:
        """Stop watching receipts (the Stop button)."""
        if self.receipt_task is not None and not self.receipt_task.done():
            self.receipt_task.cancel()

    def _start_send(self) -> tuple[Client, Message]:
        if self._sending:
            raise RuntimeError("a send is already in progress")
        if self._message is None:
            raise ValueError("the message is not ready to send: " +
                             "; ".join(str(p) for p in self._problems))
        client = self._client_or_show_why()
        self.stop()
        self._sending = True
        self.send_button.disabled = True
        self.result_view.value = "<i>Sending…</i>"
        self.receipt_view.value = ""
        return client, self._message

    def _client_or_show_why(self) -> Client:
        """:attr:`client`; when there is none to be had, its reason goes in the result line
        (where a send's outcome goes) before the error is raised."""
        try:
            return self.client
        except MissingCredentialsError as exc:
            self.receipt_view.value = ""
            self.result_view.value = P.result_html(exc)
            raise

    def _finish_send(self, result: Result | BaseException) -> None:
        self._sending = False
        self.send_button.disabled = self._message is None
        self.result_view.value = P.result_html(result)
        if not isinstance(result, (SendResult, CamsError)):
            return
        self.result = result
        if isinstance(result, SendResult) and result.message_id and self.client.sandbox is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.receipt_view.value = P.receipts_html(self._receipts_for(result.message_id))
                return
            self.receipt_task = loop.create_task(self.watch_receipts(result.message_id))

    def _receipts_for(self, message_id: str) -> list[dict[str, Any]]:
        sandbox = self.client.sandbox
        receipts = sandbox.receipts() if sandbox is not None else []
        return [r for r in receipts if r.get("MessageId") == message_id]

    def _on_send_click(self, _button: W.Button | None) -> None:
        try:
            self._client_or_show_why()
        except MissingCredentialsError:
            return  # said in the result line; a traceback under the widget would say no more
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.send()
            return
        self.send_task = loop.create_task(self.send_async())
