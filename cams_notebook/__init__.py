"""cams_notebook: send WhatsApp, Viber, Messenger and Instagram messages through Alibaba Cloud
CAMS from a notebook, one at a time or a whole DataFrame at the account's rate limit.

The heavy parts (widgets, the sandbox, the campaign engine) load when first used. pandas is
imported with the package, so that the ``frame.cams`` accessor is registered the ordinary way
(no import hooks).

>>> from cams_notebook import Client
>>> client = Client.from_env()  # real CAMS; MissingCredentialsError without keys # doctest: +SKIP
>>> client = Client.sandbox()   # the local sandbox: nothing leaves this machine  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import client as _client_module
from ._config import API_VERSION, DEFAULT_ENDPOINT, DEFAULT_QPS, DEFAULT_REGION
from .campaigns import accessor as _accessor  # noqa: F401 - registers frame.cams
from .client import AsyncClient, Client, connect
from .errors import (
    ApiError,
    AuthError,
    CamsError,
    InvalidRequestError,
    MissingCredentialsError,
    NotSubscribedError,
    OutcomeUnknownError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
    TransportError,
)
from .models import FlowAction, Message, ProductAction, SendResult
from .problems import Problem
from .signing import AcsV3Auth

if TYPE_CHECKING:
    from .campaigns.frames import (
        Campaign,
        CampaignResult,
        HealthGateError,
        InvalidFrameError,
        asend_frame,
        preview_frame,
        send_frame,
        validate_frame,
    )
    from .campaigns.reconcile import reconcile, resend
    from .receipts.events import join_receipts
    from .receipts.queue import ReceiptQueue
    from .receipts.server import ReceiptServer
    from .receipts.store import ReceiptStore
    from .sandbox import Sandbox
    from .widgets import CampaignPanel, Composer

    __version__: str
    """This package's version, read from its installed metadata on first use."""

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Sandbox": "cams_notebook.sandbox",
    "Campaign": "cams_notebook.campaigns.frames",
    "CampaignResult": "cams_notebook.campaigns.frames",
    "InvalidFrameError": "cams_notebook.campaigns.frames",
    "HealthGateError": "cams_notebook.campaigns.frames",
    "asend_frame": "cams_notebook.campaigns.frames",
    "preview_frame": "cams_notebook.campaigns.frames",
    "send_frame": "cams_notebook.campaigns.frames",
    "validate_frame": "cams_notebook.campaigns.frames",
    "Composer": "cams_notebook.widgets",
    "CampaignPanel": "cams_notebook.widgets",
    "ReceiptQueue": "cams_notebook.receipts.queue",
    "ReceiptServer": "cams_notebook.receipts.server",
    "ReceiptStore": "cams_notebook.receipts.store",
    "join_receipts": "cams_notebook.receipts.events",
    "reconcile": "cams_notebook.campaigns.reconcile",
    "resend": "cams_notebook.campaigns.reconcile",
}

# literal, so static tools (mypy, pyright, IDEs) see what is public; tests/test_init.py pins it
__all__ = ["API_VERSION", "AcsV3Auth", "ApiError", "AsyncClient", "AuthError", "Campaign",
    "CampaignPanel", "CampaignResult", "CamsError", "Client", "Composer", "DEFAULT_ENDPOINT",
    "DEFAULT_QPS", "DEFAULT_REGION", "FlowAction", "HealthGateError", "InvalidFrameError",
    "InvalidRequestError", "Message", "MissingCredentialsError", "NotSubscribedError",
    "OutcomeUnknownError", "Problem",
    "ProductAction", "ReceiptQueue", "ReceiptServer", "ReceiptStore", "RequestNotSentError",
    "Sandbox", "SendResult", "ServerError", "ThrottledError", "TransportError", "__version__",
    "asend_frame", "connect", "join_receipts", "preview_frame", "reconcile", "resend",
    "send_frame", "validate_frame"]


def _sandbox_client_kwargs(is_async: bool) -> dict[str, Any]:
    """Client arguments for the process-wide local sandbox (what ``Client.sandbox()`` uses)."""
    from .sandbox import default_sandbox  # loaded only when a sandbox client is made

    return default_sandbox().client_kwargs(is_async=is_async)


# The core does not import the sandbox (a capability above it); the root wires it in.
_client_module.sandbox_client_kwargs = _sandbox_client_kwargs


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the one version string is pyproject's, in the metadata
        from ._config import package_version

        return package_version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cams_notebook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
