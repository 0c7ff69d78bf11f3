"""``--endpoint`` and ``--sandbox``: where a command's client talks, never guessed.

The credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID`` and
``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` (``ALIBABA_CLOUD_SECURITY_TOKEN`` too for STS), the
endpoint from ``--endpoint`` or ``CAMS_NOTEBOOK_ENDPOINT``. Without the credentials a command
refuses to start (one line naming the variables, exit 2), so a scheduled job with a missing
variable fails instead of "sending" to a fake service. ``--sandbox`` asks for the in-process
local sandbox by name; it has no endpoint, so ``--sandbox --endpoint`` is a usage error.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .exits import ExitCode
from .failures import CommandError

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["SANDBOX_FLAG_HINT", "add_client_arguments", "endpoint_of", "make_client"]

SANDBOX_FLAG_HINT = ("pass --sandbox to use the in-process local sandbox "
                     "(nothing leaves this machine)")
"""How a command's missing-credentials line says to get the sandbox on purpose."""


def add_client_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--endpoint`` and ``--sandbox``: where a command's client talks (see the module doc)."""
    parser.add_argument("--endpoint", metavar="URL",
                        help="CAMS endpoint (host or URL; http only for loopback); used with the "
                        "credentials of the environment (default: CAMS_NOTEBOOK_ENDPOINT, else "
                        "the public endpoint)")
    parser.add_argument("--sandbox", action="store_true",
                        help="use the in-process local sandbox; nothing leaves this machine")


def make_client(args: argparse.Namespace) -> Client:
    """The client the flags and the environment ask for; :class:`CommandError` (exit 2) when
    there is none, before anything is read or written."""
    from ..client import Client
    from ..errors import MissingCredentialsError

    if args.sandbox and args.endpoint:
        raise CommandError(ExitCode.USAGE, "--sandbox and --endpoint conflict: the in-process "
                           "sandbox has no endpoint; to use a loopback sandbox server, set its "
                           "credentials and give --endpoint without --sandbox")
    if args.sandbox:
        return Client.sandbox()
    try:
        return Client.from_env(**({"endpoint": args.endpoint} if args.endpoint else {}))
    except MissingCredentialsError as exc:
        raise CommandError(ExitCode.USAGE, str(MissingCredentialsError(
            missing=exc.missing, hint=SANDBOX_FLAG_HINT))) from None
    except ValueError as exc:  # an endpoint that is not a host or an allowed URL
        raise CommandError(ExitCode.USAGE, str(exc)) from None


def endpoint_of(client: object) -> str | None:
    """The endpoint ``client`` talks to, as an error line names it (never a secret)."""
    account = getattr(client, "account", None)
    return str(account[0]) if account else None
