"""What went wrong, as one line for a terminal and an exit code for a script.

The package raises errors that carry objects (``AuthError.code``, ``TransportError.cause``,
``JournalError.path``) for Python callers; a command turns each into one line that says what
happened and what to do, with the :class:`~.exits.ExitCode` of its kind, instead of a
traceback. Anything not recognised here is a bug, reported as such (:func:`describe`).
"""

from __future__ import annotations

import errno
import os

from .exits import ExitCode

__all__ = ["CommandError", "describe", "file_path_problem"]

_CREDENTIALS = ("check that ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are "
                "the pair of this account (and ALIBABA_CLOUD_SECURITY_TOKEN for STS)")
_AUTH_ADVICE: tuple[tuple[str, str], ...] = (
    # (code prefix, what to do): the service's codes, as errors.classify_api_error sorts them
    ("SignatureDoesNotMatch", "the AccessKeySecret does not match the AccessKeyId: check "
                              "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("IncompleteSignature", _CREDENTIALS),
    ("InvalidAccessKeyId", "no such AccessKeyId, or it is disabled: check "
                           "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    ("InvalidTimeStamp", "this machine's clock is off: set it right (NTP) and run again"),
    ("SignatureNonceUsed", "the request was replayed: run again"),
    ("InvalidSecurityToken", "the STS token expired or belongs to another AccessKey: refresh "
                             "ALIBABA_CLOUD_SECURITY_TOKEN"),
    ("Ram.PermissionDeny", "the RAM user lacks permission for CAMS: grant it (for example the "
                           "AliyunCAMSFullAccess policy)"),
    ("Forbidden", "the RAM user lacks permission for CAMS: grant it (for example the "
                  "AliyunCAMSFullAccess policy)"),
)


class CommandError(Exception):
    """A command cannot go on: ``line`` says why and what to do, ``code`` is its exit code.

    >>> CommandError(ExitCode.USAGE, "--qps must be at least 1").code
    <ExitCode.USAGE: 2>
    """

    def __init__(self, code: ExitCode, line: str) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


def _after(sent: int) -> str:
    return "nothing was sent" if not sent else (
        f"{sent} row(s) were sent before it stopped; the journal keeps them from being sent twice")


def _auth(exc: BaseException, sent: int) -> CommandError:
    from ..errors import ApiError, NotSubscribedError

    assert isinstance(exc, ApiError)
    request = f"; RequestId {exc.request_id}" if exc.request_id else ""
    if isinstance(exc, NotSubscribedError):
        advice = "subscribe this account to CAMS (Chat App Message Service) in the console"
    else:
        advice = next((text for prefix, text in _AUTH_ADVICE if exc.code.startswith(prefix)),
                      _CREDENTIALS)
    return CommandError(ExitCode.AUTH, f"CAMS refused the request ({exc.code}: "
                        f"{exc.message}{request}): {advice}; {_after(sent)}")


def _unreachable(exc: BaseException, endpoint: str | None, sent: int) -> CommandError:
    from ..errors import OutcomeUnknownError, TransportError

    assert isinstance(exc, TransportError)
    where = f" at {endpoint}" if endpoint else ""
    why = str(exc.cause) if exc.cause is not None else str(exc)
    what = "no answer came from CAMS" if isinstance(exc, OutcomeUnknownError) else \
        "cannot reach CAMS"
    return CommandError(ExitCode.UNREACHABLE, f"{what}{where} ({why}): check --endpoint (or "
                        f"CAMS_NOTEBOOK_ENDPOINT), the network and any proxy; {_after(sent)}")


def file_path_problem(path: str) -> str | None:
    """Why a file (a journal, an ``--out``) cannot be created at ``path`` (it is a folder, or
    its folder is missing or read-only), or None. Checked before anything is sent: finding
    out afterwards would be too late."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "it is a folder, not a file"
    if not os.path.isdir(folder):
        return f"folder {folder!r} does not exist"
    if not os.path.exists(path) and not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder!r} is not writable"
    return None


def describe(exc: BaseException, *, endpoint: str | None = None, journal: str | None = None,
             sent: int = 0) -> CommandError:
    """``exc`` as one line and an exit code (``ExitCode.INTERNAL``: a bug, say so).

    ``endpoint`` and ``journal`` name what the command used, so the line can say which;
    ``sent`` is how many rows went out before the error, so it never says "nothing was sent"
    when something was.
    """
    from ..campaigns.journal import JournalError
    from ..errors import (
        ApiError,
        AuthError,
        MissingCredentialsError,
        NotSubscribedError,
        TransportError,
    )

    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, (AuthError, NotSubscribedError)):
        return _auth(exc, sent)
    if isinstance(exc, TransportError):
        return _unreachable(exc, endpoint, sent)
    if isinstance(exc, ApiError):
        return CommandError(ExitCode.FAILED, f"CAMS answered with an error ({exc}); "
                            f"{_after(sent)}")
    if isinstance(exc, JournalError):
        return CommandError(ExitCode.JOURNAL, str(exc))
    if isinstance(exc, OSError) and journal and exc.filename and \
            str(exc.filename).startswith(journal):
        why = file_path_problem(journal) or (exc.strerror or str(exc)).lower()
        return CommandError(ExitCode.JOURNAL, f"--journal {journal!r} cannot be used: {why}; "
                            "give a file in a folder that exists and is writable; "
                            f"{_after(sent)}")
    if isinstance(exc, MissingCredentialsError):
        return CommandError(ExitCode.USAGE, str(exc))
    if isinstance(exc, ValueError):  # the package's word for a bad argument: here, a flag
        from .wording import flag_wording

        return CommandError(ExitCode.USAGE, flag_wording(str(exc)))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS):
        where = f" {exc.filename!r}" if exc.filename else ""
        return CommandError(ExitCode.FAILED, f"cannot write{where}: {exc.strerror}")
    return CommandError(ExitCode.INTERNAL, f"unexpected {type(exc).__name__}: {exc} (a bug in "
                        "cams-notebook: run again with --debug and report the traceback)")
