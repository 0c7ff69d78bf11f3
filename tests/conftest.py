"""Shared fixtures: no credentials from the machine, no state carried between tests.

``clock``, ``sandbox``, ``sandbox_client``, ``async_sandbox_client`` and ``sandbox_server``
come from the package's own pytest plugin, :mod:`cams_notebook.testing` (loaded through its
``pytest11`` entry point), the same fixtures the package offers its users' tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cams_notebook.campaigns.campaign_run as campaign_module
import cams_notebook.client as client_module
import cams_notebook.sandbox as sandbox_module
from cams_notebook.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _clean_global_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                 "ALIBABA_CLOUD_SECURITY_TOKEN", "CAMS_NOTEBOOK_ENDPOINT", "CAMS_NOTEBOOK_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(client_module, "_sandbox_notice_shown", False)
    monkeypatch.setattr(sandbox_module, "_default", None)
    monkeypatch.setattr(campaign_module, "_SESSION_JOURNALS", {})
    yield


@pytest.fixture
def service_in_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A loopback sandbox server standing in for CAMS, reached as CAMS is: its key pair and
    URL in the environment (``ALIBABA_CLOUD_*``, ``CAMS_NOTEBOOK_ENDPOINT``), so that
    ``Client.from_env()`` talks to it. Its key id is ``LTAI5tServiceInEnv1``."""
    service = Sandbox(access_key_id="LTAI5tServiceInEnv1", access_key_secret=ENV_SECRET, seed=1,
                      receipt_delay=0)
    server = service.serve()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", service.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ENV_SECRET)
    monkeypatch.setenv("CAMS_NOTEBOOK_ENDPOINT", server.url)
    yield service
    service.stop()


ENV_SECRET = "known-secret-value-in-env-7a3b"
"""The secret of :func:`service_in_env`: tests check it shows nowhere."""
