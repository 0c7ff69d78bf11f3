"""Every error cams_notebook raises on purpose, in one tree.

::

    CamsError
    ├── ApiError                 the service answered, and the answer is a failure
    │   ├── ThrottledError       System.LimitControl, Throttling*, or an x-acs-retry-after header
    │   ├── AuthError            signature, AccessKey, RAM permission
    │   ├── NotSubscribedError   Product.Unsubscript
    │   ├── InvalidRequestError  InvalidParameter.*, MissingParameter, template problems
    │   └── ServerError          HTTP 5xx
    └── TransportError           no usable answer came back
        ├── RequestNotSentError  the request surely never reached the service (connect failed)
        └── OutcomeUnknownError  it may have reached the service: timeout or reset after writing,
                                 or an answer that cannot be read

Errors carry objects, not only text: :class:`ApiError` keeps ``code``, ``message``,
``request_id``, ``status_code``, ``recommend``, ``host_id`` and ``retry_after``; every
:class:`CamsError` has ``row`` (set by the batch engine) so a failure can be traced to its
input. Programmer misuse (a wrong argument type, an invalid message) raises ``TypeError``
or ``ValueError`` (pydantic's ``ValidationError`` is a ``ValueError``), not a ``CamsError``.

The batch engine reads ``retry_safe`` to decide whether a request may be sent again without
risking a duplicate message: only when the service surely did not act on it.

Outside the tree, :class:`MissingCredentialsError` (a ``ValueError``: the program was started
without its configuration) is raised by ``Client.from_env()`` when the credentials are not in
the environment, before any request exists. The local sandbox is never a silent stand-in for
the real service: it is asked for by name, with ``Client.sandbox()``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from . import _config as cfg

__all__ = [
    "ApiError",
    "AuthError",
    "CamsError",
    "InvalidRequestError",
    "MissingCredentialsError",
    "NotSubscribedError",
    "OutcomeUnknownError",
    "PlatformStopError",
    "RequestNotSentError",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "classify_api_error",
]


class CamsError(Exception):
    """Base of every error cams_notebook raises about a request or the service."""

    retry_safe: bool = False
    """True when sending the same request again cannot duplicate a message."""

    def __init__(self, message: str, *, row: Hashable | None = None) -> None:
        super().__init__(message)
        self.row = row


class PlatformStopError(CamsError):
    """The platform said to stop sending (a sender number rated RED or flagged, a template
    paused or disabled), in a ChatAppAudit event that came in while a campaign ran."""


class ApiError(CamsError):
    """The service answered with a failure (HTTP 4xx/5xx, or HTTP 200 with ``Code != "OK"``)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        request_id: str | None = None,
        status_code: int | None = None,
        recommend: str | None = None,
        host_id: str | None = None,
        access_denied_detail: Any = None,
        retry_after: float | None = None,
        data: dict[str, Any] | None = None,
        row: Hashable | None = None,
    ) -> None:
        super().__init__(message, row=row)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status_code = status_code
        self.recommend = recommend
        self.host_id = host_id
        self.access_denied_detail = access_denied_detail
        self.retry_after = retry_after
        self.data = data or {}

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.request_id:
            parts.append(f"RequestId {self.request_id}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )


class ThrottledError(ApiError):
    """The account's rate limit was hit; the request was not acted on and may be retried."""

    retry_safe = True


class AuthError(ApiError):
    """The credentials or their permissions were refused. Retrying will not help."""


class NotSubscribedError(ApiError):
    """The account has not subscribed to CAMS (``Product.Unsubscript``)."""


class InvalidRequestError(ApiError):
    """The service rejected the request's parameters (``InvalidParameter.*``,
    ``MissingParameter``)."""


class ServerError(ApiError):
    """The service failed (HTTP 5xx) before accepting the request.

    A gateway 5xx carries no MessageId, so the message was not accepted: retrying is safe.
    """

    retry_safe = True


class TransportError(CamsError):
    """No usable answer came back from the service."""

    def __init__(self, message: str, *, cause: BaseException | None = None,
                 row: Hashable | None = None) -> None:
        super().__init__(message, row=row)
        self.cause = cause


class RequestNotSentError(TransportError):
    """The request surely never reached the service (for example, the connection was refused)."""

    retry_safe = True


class OutcomeUnknownError(TransportError):
    """The request may have reached the service, but no answer could be read.

    Sending it again could deliver the message twice, so the batch engine marks the row
    ``unknown`` instead and leaves it to reconciliation.
    """


class MissingCredentialsError(ValueError):
    """The CAMS credentials are not in the environment, and the sandbox was not asked for.

    Raised by ``Client.from_env()`` (and ``connect()``, the CLI, the campaign panel) instead of
    quietly talking to the local sandbox: a scheduled job with a missing variable must fail,
    not "send" to a fake service and exit 0. ``missing`` names the variables that are unset
    or empty; the message says what to set, and ``hint`` how to get the sandbox on purpose.
    No value of any variable is ever part of it.

    >>> str(MissingCredentialsError(missing=["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]))[:64]
    'no CAMS credentials: ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set;'
    """

    def __init__(self, *, missing: Sequence[str] = cfg.CREDENTIAL_VARIABLES,
                 hint: str = cfg.SANDBOX_HINT) -> None:
        self.missing: tuple[str, ...] = tuple(missing) or cfg.CREDENTIAL_VARIABLES
        """The variables that are not set (or are empty), by name."""
        self.hint = hint
        """How to use the local sandbox instead, on purpose."""
        key_id, secret = cfg.CREDENTIAL_VARIABLES
        which = ("" if set(self.missing) >= {key_id, secret}
                 else f"{' and '.join(self.missing)} {'is' if len(self.missing) == 1 else 'are'} "
                 "not set; ")
        super().__init__(
            f"no CAMS credentials: {which}set {key_id} and {secret} "
            f"(and {cfg.ENV_SECURITY_TOKEN} for STS credentials) to reach CAMS, or {hint}")


_AUTH_CODES = frozenset(
    {
        "Ram.PermissionDeny",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "Forbidden.RAM",
        "Authentication.NoAuth",
        "Unknown.ResourceOwnerId",
        "InvalidTimeStamp.Expired",
        "SignatureNonceUsed",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.MismatchWithAccessKey",
    }
)


def classify_api_error(code: str, status_code: int | None,
                       retry_after: float | None) -> type[ApiError]:
    """Pick the :class:`ApiError` subclass for a service error code.

    >>> classify_api_error("System.LimitControl", 400, None).__name__
    'ThrottledError'
    """
    if retry_after is not None or code == "System.LimitControl" or code.startswith("Throttling"):
        return ThrottledError
    if code in _AUTH_CODES or code.startswith("InvalidAccessKeyId") or code.startswith("Forbidden"):
        return AuthError
    if code == "Product.Unsubscript":
        return NotSubscribedError
    if status_code is not None and status_code >= 500:
        return ServerError
    if code.startswith(("InvalidParameter", "Missing", "DetailError", "InvalidAction",
                        "InvalidVersion")):
        return InvalidRequestError
    return ApiError
