"""Credentials: which variables a client needs, reading them from the environment, and how an
AccessKeyId is shown. The environment is read only when asked (``Client.from_env()``), never
at import, and a secret is never shown: it is kept as a ``SecretStr``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from . import _config as cfg

__all__ = ["as_secret", "env_client_kwargs", "mask_key_id", "missing_credentials"]


def as_secret(value: str | SecretStr | None) -> SecretStr | None:
    """``value`` as a ``SecretStr`` (None stays None), so no repr shows it."""
    return SecretStr(value) if isinstance(value, str) else value


def mask_key_id(key_id: str) -> str:
    """An AccessKeyId as logs and reprs show it: its ends only.

    >>> mask_key_id("LTAI5tAbCdEfGhIj")
    'LTAI****GhIj'
    """
    return key_id if len(key_id) <= 8 else f"{key_id[:4]}****{key_id[-4:]}"


def missing_credentials(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The credential variables that are unset or blank in ``environ`` (``os.environ``); ``()``
    when ``Client.from_env()`` can start. Names only: no value is read out.

    >>> missing_credentials({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI..."})
    ('ALIBABA_CLOUD_ACCESS_KEY_SECRET',)
    """
    env = os.environ if environ is None else environ
    return tuple(name for name in cfg.CREDENTIAL_VARIABLES if not env.get(name, "").strip())


def env_client_kwargs(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Client arguments from the environment; :class:`~.errors.MissingCredentialsError`
    without both keys (there is no fallback)."""
    from .errors import MissingCredentialsError

    env = os.environ if environ is None else environ
    missing = missing_credentials(env)
    if missing:
        raise MissingCredentialsError(missing=missing)
    kwargs: dict[str, Any] = {"access_key_id": env[cfg.ENV_ACCESS_KEY_ID].strip(),
                              "access_key_secret": env[cfg.ENV_ACCESS_KEY_SECRET].strip()}
    for variable, name in ((cfg.ENV_REGION, "region"), (cfg.ENV_ENDPOINT, "endpoint"),
                           (cfg.ENV_SECURITY_TOKEN, "security_token")):
        if env.get(variable):
            kwargs[name] = env[variable]
    return kwargs
