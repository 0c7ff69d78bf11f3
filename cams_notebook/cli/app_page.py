"""The page ``cams-notebook app`` serves: a header saying where it sends, the campaign panel
and the composer, in two tabs.

It runs in the page's kernel: the notebook the command writes calls :func:`show_app` with plain
settings (paths, flags, no credential). The client is made here, from the kernel's environment
(``Client.from_env()``) or as the sandbox; the widgets hold no credential, so the page's
widget state has none either. The widgets are used as they are in a notebook; this module only
arranges them and, without a CSV on the command line, takes one by upload.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from ..client import Client
from ..credentials import mask_key_id
from ..widgets import CampaignPanel, Composer
from .app import read_recipients

__all__ = ["AppPage", "build_app", "make_client", "show_app"]

_ERROR = "color:#b00020"
_GREY = "color:#666"


@dataclass
class AppPage:
    """The page's parts: what :func:`build_app` made, for a test or a caller to reach."""

    widget: W.Box
    """What the page shows."""
    client: Client
    composer: Composer
    panel: CampaignPanel | None = None
    """The campaign panel, once there are recipients (from the command line or an upload)."""


def show_app(settings: Mapping[str, Any]) -> None:
    """Display the page; what keeps it from being built is shown in words, not a traceback
    (the server hides tracebacks)."""
    from IPython.display import HTML, display

    try:
        page = build_app(settings)
    except Exception as exc:  # noqa: BLE001 - the page has no other way to say it
        display(HTML(f"<div class='cams-app-error' style='{_ERROR}'>⚠ The page could not "  # type: ignore[no-untyped-call]
                     f"start: {html.escape(f'{type(exc).__name__}: {exc}')}</div>"))
        return
    display(page.widget)  # type: ignore[no-untyped-call]


def make_client(settings: Mapping[str, Any]) -> Client:
    """The sandbox (its notice is the header's job) or the account of the environment."""
    if settings.get("sandbox"):
        from IPython.utils.capture import capture_output

        with capture_output():  # the sandbox's notice is displayed, not printed
            return Client.sandbox()
    endpoint = settings.get("endpoint")
    return Client.from_env(**({"endpoint": endpoint} if endpoint else {}))


def build_app(settings: Mapping[str, Any]) -> AppPage:
    """The page for ``settings`` (``csv``, ``journal``, their ``csv_name`` and
    ``journal_name`` as shown, ``sandbox``, ``endpoint``, ``qps``, ``receipts``: what
    ``cams_notebook.cli.app.page_settings`` gives)."""
    client = make_client(settings)
    journal, qps, csv = str(settings["journal"]), int(settings["qps"]), settings.get("csv")
    composer = Composer(client, receipts=_receipts(client, settings))
    campaign = W.VBox()
    page = AppPage(W.VBox(), client, composer)
    if csv is not None:
        page.panel = CampaignPanel(read_recipients(csv), client, qps=qps, journal=journal)
        campaign.children = [_recipients_note(settings.get("csv_name") or csv,
                                              len(page.panel.frame)), page.panel.widget]
    else:
        campaign.children = _upload(page, campaign, journal, qps)
    tabs = W.Tab(children=[campaign, composer.widget], titles=("Campaign", "One message"))
    page.widget.children = [_header(client, bool(settings.get("sandbox")),
                                    settings.get("journal_name") or journal), tabs]
    page.widget.add_class("cams-app")
    return page


def _receipts(client: Client, settings: Mapping[str, Any]) -> Any:
    """The sandbox's own receipt queue; for an account, only a store filled elsewhere (pulling
    the account's queue here would take receipts from whatever else reads it)."""
    if settings.get("sandbox"):
        from ..receipts.queue import ReceiptQueue

        return ReceiptQueue(client, store=":memory:")
    if settings.get("receipts"):
        from ..receipts.store import ReceiptStore

        return ReceiptStore(settings["receipts"])
    return None


def _header(client: Client, sandbox: bool, journal: str) -> W.HTML:
    endpoint, key_id = client.account
    where = ("<b>Sandbox</b>: the local CAMS sandbox; nothing leaves this machine" if sandbox
             else f"<b>Account {html.escape(mask_key_id(key_id))}</b> at "
                  f"{html.escape(endpoint)}: messages are really sent")
    return W.HTML(f"<h3 style='margin:4px 0'>cams-notebook</h3><div>{where}</div>"
                  f"<div style='{_GREY};font-size:12px'>Journal {html.escape(journal)}: "
                  "a row sent once is never sent again, from this page or a later one.</div>"
                  ).add_class("cams-app-header")


def _recipients_note(name: str, rows: int) -> W.HTML:
    return W.HTML(f"<div class='cams-app-recipients'>Recipients: <b>{html.escape(name)}</b> "
                  f"({rows} rows)</div>")


def _upload(page: AppPage, box: W.Box, journal: str, qps: int) -> list[W.Widget]:
    """A CSV upload that becomes the campaign panel in ``box``. Another file means reloading
    the page (a fresh kernel), so a panel is never swapped away while it sends."""
    upload = W.FileUpload(accept=".csv", multiple=False, description="Recipients CSV")
    upload.add_class("cams-app-upload")
    note = W.HTML(f"<div style='{_GREY}'>Choose the CSV of recipients, one per row.</div>")

    def on_upload(change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        name = str(change["new"][0]["name"])
        try:
            frame = read_recipients(io.BytesIO(bytes(change["new"][0]["content"])))
            page.panel = CampaignPanel(frame, page.client, qps=qps, journal=journal)
        except ValueError as exc:
            note.value = (f"<div class='cams-app-error' style='{_ERROR}'>⚠ Cannot read "
                          f"{html.escape(name)}: {html.escape(str(exc))}</div>")
            return
        again = W.HTML(f"<div style='{_GREY};font-size:12px'>Reload the page to load "
                       "another file.</div>")
        box.children = [_recipients_note(name, len(frame)), again, page.panel.widget]

    upload.observe(on_upload, names="value")
    return [upload, note]
