"""cams_notebook: send WhatsApp, Viber, Messenger and Instagram messages through Alibaba Cloud
CAMS from a notebook, one at a time or a whole DataFrame at the account's rate limit.

The heavy parts (widgets, the sandbox, the campaign engine) load when first used, so
``import cams_notebook`` stays light.

>>> from cams_notebook import Client
>>> client = Client.from_env()  # real CAMS; MissingCredentialsError without keys # doctest: +SKIP
>>> client = Client.sandbox()   # the local sandbox: nothing leaves this machine  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from ._config import API_VERSION, DEFAULT_ENDPOINT, DEFAULT_QPS, DEFAULT_REGION
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
    from .frames import (
        CampaignResult,
        InvalidFrameError,
        asend_frame,
        preview_frame,
        send_frame,
        validate_frame,
    )
    from .receipt_queue import ReceiptQueue
    from .receipt_server import ReceiptServer
    from .receipt_store import ReceiptStore
    from .receipts import join_receipts
    from .reconcile import reconcile, resend
    from .sandbox import Sandbox
    from .widgets import CampaignPanel, Composer

__version__ = "0.1.0"

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Sandbox": "cams_notebook.sandbox",
    "CampaignResult": "cams_notebook.frames",
    "InvalidFrameError": "cams_notebook.frames",
    "asend_frame": "cams_notebook.frames",
    "preview_frame": "cams_notebook.frames",
    "send_frame": "cams_notebook.frames",
    "validate_frame": "cams_notebook.frames",
    "Composer": "cams_notebook.widgets",
    "CampaignPanel": "cams_notebook.widgets",
    "ReceiptQueue": "cams_notebook.receipt_queue",
    "ReceiptServer": "cams_notebook.receipt_server",
    "ReceiptStore": "cams_notebook.receipt_store",
    "join_receipts": "cams_notebook.receipts",
    "reconcile": "cams_notebook.reconcile",
    "resend": "cams_notebook.reconcile",
}

__all__ = sorted([
    "API_VERSION",
    "AcsV3Auth",
    "ApiError",
    "AsyncClient",
    "AuthError",
    "CamsError",
    "CampaignPanel",
    "CampaignResult",
    "Client",
    "Composer",
    "DEFAULT_ENDPOINT",
    "DEFAULT_QPS",
    "DEFAULT_REGION",
    "FlowAction",
    "InvalidFrameError",
    "InvalidRequestError",
    "Message",
    "MissingCredentialsError",
    "NotSubscribedError",
    "OutcomeUnknownError",
    "Problem",
    "ProductAction",
    "ReceiptQueue",
    "ReceiptServer",
    "ReceiptStore",
    "RequestNotSentError",
    "Sandbox",
    "SendResult",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "__version__",
    "asend_frame",
    "connect",
    "join_receipts",
    "preview_frame",
    "reconcile",
    "resend",
    "send_frame",
    "validate_frame",
])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cams_notebook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _RegisterAccessorWhenPandasLoads(importlib.abc.MetaPathFinder):
    """Registers the ``frame.cams`` accessor as soon as pandas is imported, whenever that is.

    ``import cams_notebook`` does not import pandas (it stays light); the accessor lives in
    :mod:`cams_notebook.frames`, which needs pandas. If pandas is already loaded, the
    accessor is registered now; otherwise this finder waits for pandas' import to finish.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("pandas")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module: Any) -> None:
            exec_module(module)
            importlib.import_module("cams_notebook.frames")

        loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


if "pandas" in sys.modules:
    importlib.import_module("cams_notebook.frames")
else:
    sys.meta_path.insert(0, _RegisterAccessorWhenPandasLoads())
