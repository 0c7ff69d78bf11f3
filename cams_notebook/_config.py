"""Named defaults, in one place. Nothing here reads the environment (``from_env()`` does)."""

from __future__ import annotations

import functools

API_VERSION = "2020-06-06"
DEFAULT_REGION = "ap-southeast-1"
DEFAULT_ENDPOINT = "cams.ap-southeast-1.aliyuncs.com"
DEFAULT_QPS = 250
"""SendChatappMessage allows 250 requests per second per account."""
DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for an answer (the official SDK's read timeout)."""
DEFAULT_CONNECT_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 1 << 20
"""An answer larger than this is not a CAMS answer; it is read no further."""

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_ENDPOINT = "CAMS_NOTEBOOK_ENDPOINT"
ENV_REGION = "CAMS_NOTEBOOK_REGION"
CREDENTIAL_VARIABLES = (ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET)
"""Both must be set (non-empty) for ``Client.from_env()``; there is no fallback."""

SANDBOX_ENDPOINT = "sandbox:in-process"
"""What ``client.account`` names as the endpoint of a client wired to the in-process sandbox."""
SANDBOX_HOST = "cams-sandbox.invalid"
"""The host name of the in-process sandbox: under ``.invalid``, which no resolver answers
(RFC 6761), so a request meant for it can only reach it through its transport."""
SANDBOX_URL = f"http://{SANDBOX_HOST}"
SANDBOX_HINT = "use Client.sandbox() for the local sandbox (nothing leaves this machine)"
"""How a ``MissingCredentialsError`` says to get the sandbox on purpose, from Python."""
SANDBOX_NOTICE = ("cams_notebook: this client talks to the local CAMS sandbox, in this process; "
                  "nothing leaves this machine.")
"""Printed once per process, to stdout (stderr shows as an error box in a notebook)."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@functools.cache
def package_version() -> str:
    """This package's version, from its installed metadata (the one version string, kept in
    pyproject.toml); read on first use, not at import (importlib.metadata costs ~50 ms)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("cams_notebook")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0+unknown"


@functools.cache
def user_agent() -> str:
    """The User-Agent of every request: this package's version and httpx's."""
    import httpx

    return f"cams-notebook/{package_version()} httpx/{httpx.__version__}"
