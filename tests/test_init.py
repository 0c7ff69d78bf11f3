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
    # by equality: a name added or dropped is a change of the public surface, made on purpose
    assert cams_notebook.__all__ == [
        "API_VERSION", "AcsV3Auth", "ApiError", "AsyncClient", "AuthError", "Campaign",
        "CampaignPanel", "CampaignResult", "CamsError", "Client", "Composer", "DEFAULT_ENDPOINT",
        "DEFAULT_QPS",
        "DEFAULT_REGION", "FlowAction", "HealthGateError", "InvalidFrameError",
        "InvalidRequestError", "Message",
        "MissingCredentialsError", "NotSubscribedError", "OutcomeUnknownError", "Problem",
        "ProductAction", "ReceiptQueue", "ReceiptServer", "ReceiptStore", "RequestNotSentError",
        "Sandbox", "SendResult", "ServerError", "ThrottledError", "TransportError", "__version__",
        "asend_frame", "connect", "join_receipts", "preview_frame", "reconcile", "resend",
        "send_frame", "validate_frame"]


def test_all_is_a_literal_list_static_tools_can_read() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(cams_notebook.__file__).read_text())
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and any(getattr(t, "id", None) == "__all__" for t in node.targets)]
    assert ast.literal_eval(value) == cams_notebook.__all__


def test_missing_credentials_error_is_a_value_error_exported_at_the_top() -> None:
    from cams_notebook.client import connect
    from cams_notebook.errors import MissingCredentialsError

    assert cams_notebook.MissingCredentialsError is MissingCredentialsError
    assert issubclass(MissingCredentialsError, ValueError)
    assert not issubclass(MissingCredentialsError, cams_notebook.CamsError)
    assert cams_notebook.connect is connect


def test_import_loads_no_widgets_sandbox_or_engine_until_used() -> None:
    heavy = ("ipywidgets", "tqdm", "cams_notebook.sandbox", "cams_notebook.campaigns.engine",
             "cams_notebook.campaigns.journal", "cams_notebook.widgets")
    code = (f"import sys, cams_notebook; print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_accessor_is_there_after_import_whichever_comes_first() -> None:
    # registered the ordinary way, with no import hook: pandas imported before or after
    for code in ("import cams_notebook, pandas as pd; print(hasattr(pd.DataFrame(), 'cams'))",
                 "import pandas as pd, cams_notebook; print(hasattr(pd.DataFrame(), 'cams'))",
                 "import cams_notebook.campaigns.campaign, pandas as pd; "
                 "print(hasattr(pd.DataFrame(), 'cams'))"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == "True", out.stderr
    hooks = subprocess.run([sys.executable, "-c", "import sys; n = len(sys.meta_path); "
                            "import cams_notebook; print(len(sys.meta_path) - n)"],
                           capture_output=True, text=True, check=True)
    assert hooks.stdout.strip() == "0"
