"""The public surface: what `import cams_notebook` exports, and how little it loads."""

from __future__ import annotations

import subprocess
import sys

import cams_notebook


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert cams_notebook.__all__ == sorted(cams_notebook.__all__)
    for name in cams_notebook.__all__:
        assert getattr(cams_notebook, name) is not None


def test_public_names_are_pinned() -> None:
    assert set(cams_notebook.__all__) >= {
        "AcsV3Auth", "ApiError", "AsyncClient", "AuthError", "CamsError", "Client", "Message",
        "MissingCredentialsError", "OutcomeUnknownError", "RequestNotSentError", "Sandbox",
        "SendResult", "ThrottledError", "connect",
    }


def test_missing_credentials_error_is_a_value_error_exported_at_the_top() -> None:
    from cams_notebook.client import connect
    from cams_notebook.errors import MissingCredentialsError

    assert cams_notebook.MissingCredentialsError is MissingCredentialsError
    assert issubclass(MissingCredentialsError, ValueError)
    assert not issubclass(MissingCredentialsError, cams_notebook.CamsError)
    assert cams_notebook.connect is connect


def test_import_is_light_widgets_sandbox_and_pandas_load_on_first_use() -> None:
    code = ("import sys, cams_notebook; "
            "print(sorted(m for m in ('ipywidgets', 'pandas', 'cams_notebook.sandbox', 'tqdm') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
