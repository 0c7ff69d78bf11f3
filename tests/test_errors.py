"""The CamsError tree: classes, retry safety and the objects errors carry."""

from __future__ import annotations

import pytest

from cams_notebook import errors


def test_the_tree_is_as_drawn_in_the_module_docstring() -> None:
    for name in ("ThrottledError", "AuthError", "NotSubscribedError", "InvalidRequestError",
                 "ServerError"):
        assert issubclass(getattr(errors, name), errors.ApiError)
        assert name in (errors.__doc__ or "")
    for name in ("RequestNotSentError", "OutcomeUnknownError"):
        assert issubclass(getattr(errors, name), errors.TransportError)
    assert issubclass(errors.ApiError, errors.CamsError)
    assert issubclass(errors.TransportError, errors.CamsError)


@pytest.mark.parametrize(
    ("cls", "safe"),
    [(errors.ThrottledError, True), (errors.ServerError, True), (errors.RequestNotSentError, True),
     (errors.OutcomeUnknownError, False), (errors.AuthError, False),
     (errors.InvalidRequestError, False)],
)
def test_only_errors_where_the_service_surely_did_not_act_are_retry_safe(
        cls: type[errors.CamsError], safe: bool) -> None:
    assert cls.retry_safe is safe


def test_api_errors_keep_their_fields_and_the_row() -> None:
    error = errors.InvalidRequestError("bad", code="InvalidParameter.X", request_id="R",
                                       status_code=200, row=42)
    assert (error.code, error.request_id, error.status_code, error.row) == (
        "InvalidParameter.X", "R", 200, 42)
    assert "InvalidRequestError(code='InvalidParameter.X'" in repr(error)
