"""Shared fixtures: no credentials from the machine, no state carried between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cams_notebook.client as client_module
import cams_notebook.frames as frames_module
import cams_notebook.sandbox as sandbox_module
from cams_notebook.sandbox import Sandbox

@pytest.fixture(autouse=True)
def _clean_global_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                 "ALIBABA_CLOUD_SECURITY_TOKEN", "CAMS_NOTEBOOK_ENDPOINT", "CAMS_NOTEBOOK_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(client_module, "_sandbox_notice_shown", False)
    monkeypatch.setattr(sandbox_module, "_default", None)
    monkeypatch.setattr(frames_module, "_SESSION_JOURNALS", {})
    yield


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(seed=7, receipt_delay=0.0)
    yield sb
    sb.stop()
