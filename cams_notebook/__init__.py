"""cams_notebook: send WhatsApp, Viber, Messenger and Instagram messages through Alibaba Cloud
CAMS from a notebook, one at a time or a whole DataFrame at the account's rate limit.

The heavy parts (widgets, the sandbox, the campaign engine) load when first used, so
``import cams_notebook`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import API_VERSION, DEFAULT_ENDPOINT, DEFAULT_QPS, DEFAULT_REGION
from .client import AsyncClient, Client
from .errors import (
    ApiError,
    AuthError,
    CamsError,
    InvalidRequestError,
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
    from .sandbox import Sandbox

__version__ = "0.1.0"

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Sandbox": "cams_notebook.sandbox",
}

__all__ = sorted([
    "API_VERSION",
    "AcsV3Auth",
    "ApiError",
    "AsyncClient",
    "AuthError",
    "CamsError",
    "Client",
    "DEFAULT_ENDPOINT",
    "DEFAULT_QPS",
    "DEFAULT_REGION",
    "FlowAction",
    "InvalidRequestError",
    "Message",
    "NotSubscribedError",
    "OutcomeUnknownError",
    "Problem",
    "ProductAction",
    "RequestNotSentError",
    "Sandbox",
    "SendResult",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "__version__",
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
