"""Which ApiError class a service error code becomes: what the engine retries, stops on, or fails.

Oracle: the codes and their HTTP statuses listed in ``../shared/reference/cams_api.md``
section 4 (4.2 the SDK's behaviour: a retry-after header is a throttle, 5xx a server error;
4.3 the codes found: operation-level, CAMS business and gateway/common POP codes), mapped
by hand onto the tree drawn in ``cams_notebook/errors.py``. The classification matters
because the campaign engine reads it: throttles and server errors are retried
(``retry_safe``), auth and subscription errors stop the campaign, request errors fail the row.
"""

from __future__ import annotations

import pytest

from cams_notebook.errors import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotSubscribedError,
    ServerError,
    ThrottledError,
    classify_api_error,
)


@pytest.mark.parametrize(("code", "status", "retry_after", "expected"), [
    # throttling: the operation-level code, the POP family, or the SDK's retry-after header
    ("System.LimitControl", 400, None, ThrottledError),
    ("Throttling.User", 400, None, ThrottledError),
    ("Throttling", 503, None, ThrottledError),
    ("InvalidParameter.ContentError", 400, 2.0, ThrottledError),
    ("InternalError", 500, 1.0, ThrottledError),
    # who is asking: signature, AccessKey, RAM (any Forbidden.*), timestamps and nonces
    ("SignatureDoesNotMatch", 400, None, AuthError),
    ("IncompleteSignature", 400, None, AuthError),
    ("InvalidAccessKeyId.NotFound", 404, None, AuthError),
    ("InvalidAccessKeyId.Inactive", 400, None, AuthError),
    ("Forbidden.RAM", 403, None, AuthError),
    ("Forbidden.AccessKeyDisabled", 403, None, AuthError),
    ("Forbidden", 403, None, AuthError),
    ("Ram.PermissionDeny", 400, None, AuthError),
    ("Unknown.ResourceOwnerId", 400, None, AuthError),
    ("Authentication.NoAuth", 400, None, AuthError),
    ("SignatureNonceUsed", 400, None, AuthError),
    ("InvalidTimeStamp.Expired", 400, None, AuthError),
    # the product is not subscribed
    ("Product.Unsubscript", 400, None, NotSubscribedError),
    # the service's own trouble: any 5xx
    ("InternalError", 500, None, ServerError),
    ("ServiceUnavailable", 503, None, ServerError),
    ("CHAT.APIError", 500, None, ServerError),
    ("ERR-COMMON-001", 599, None, ServerError),
    # the request is wrong: parameters, missing ones, unknown templates, actions, versions
    ("InvalidParameter.FromOnlyNumeric", 400, None, InvalidRequestError),
    ("MissingParameter", 400, None, InvalidRequestError),
    ("MissingTo", 400, None, InvalidRequestError),
    ("DetailError.TemplateNotExist", 400, None, InvalidRequestError),
    ("InvalidAction.NotFound", 404, None, InvalidRequestError),
    ("InvalidAction", 400, None, InvalidRequestError),
    ("InvalidVersion", 400, None, InvalidRequestError),
    ("InvalidVersion.NotSupported", 400, None, InvalidRequestError),
    # anything else is an ApiError, never one of the classes the engine acts on
    ("DelError.TemplateNotExist", 400, None, ApiError),
    ("999999", 400, None, ApiError),
    ("ERR-OPERATION-MAAP-0060", 400, None, ApiError),
    ("ERR-FB-001", None, None, ApiError),
    ("InternalError", 499, None, ApiError),
    ("forbidden.ram", 403, None, ApiError),          # codes are case-sensitive
    ("invalidparameter.x", 400, None, ApiError),
    ("xInvalidParameter", 400, None, ApiError),
])
def test_each_documented_code_becomes_its_class(code: str, status: int | None,
                                               retry_after: float | None,
                                               expected: type[ApiError]) -> None:
    assert classify_api_error(code, status, retry_after) is expected


def test_the_order_of_the_rules_throttle_then_auth_then_subscription_then_5xx() -> None:
    """A code of one family at a status of another: the code's family wins, in this order."""
    assert classify_api_error("Forbidden.RAM", 503, None) is AuthError
    assert classify_api_error("Product.Unsubscript", 500, None) is NotSubscribedError
    assert classify_api_error("InvalidParameter.X", 500, None) is ServerError
    assert classify_api_error("Throttling.User", 403, None) is ThrottledError
    assert classify_api_error("SignatureDoesNotMatch", 400, 0.0) is ThrottledError
