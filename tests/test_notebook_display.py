"""What a notebook shows: notices as quiet lines (never the red stderr box), tables with
percentages, blank empty cells and no "..." cuts, the same on every run (cams_notebook.display)."""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from cams_notebook.display import Notice, in_kernel, notice, table
from cams_notebook.receipts.store import ReceiptStore
from tests.receipt_helpers import receipt

LONG_REASON = ("131026:Receiver is incapable of receiving this message(Message Undeliverable.) "
               "and the rest of a reason long enough for pandas to cut it short")


def run_in_kernel(*sources: str) -> list[list[dict[str, Any]]]:
    """Run cells in a fresh Jupyter kernel, as a notebook does; each cell's outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return [[dict(output) for output in cell.outputs] for cell in nb.cells]


def streams(outputs: list[dict[str, Any]], name: str) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == name)


def test_in_a_notebook_the_notices_are_quiet_lines_not_error_boxes() -> None:
    client_cell, send_cell = run_in_kernel(
        "from cams_notebook import Client\nclient = Client.sandbox()",
        "import pandas as pd\n"
        "frame = pd.DataFrame({'to': ['15550100001', '15550100002'], 'name': ['Ada', None]})\n"
        "result = frame.cams.send(client=client, channel_type='whatsapp', type='template',\n"
        "    from_='8613800000000', template_code='830174529611842305', language='en',\n"
        "    params={'name': 'name', 'order_id': 'name'}, on_invalid='skip')")
    for outputs in (client_cell, send_cell):
        assert streams(outputs, "stderr") == ""  # nothing in a red box
    [shown] = [o for o in client_cell if o["output_type"] == "display_data"]
    assert "nothing leaves this machine" in shown["data"]["text/plain"]
    assert shown["data"]["text/html"].startswith('<div class="cams-notice"')
    plan = [o["data"]["text/plain"] for o in send_cell if o["output_type"] == "display_data"]
    assert any(re.match(r"campaign '\w+': 2 rows, 1 valid \(1 whatsapp\), 1 invalid", p)
               for p in plan), plan


def test_in_a_terminal_a_notice_is_a_line_on_the_stream_it_names(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert not in_kernel()
    notice("campaign 'x': 3 rows")
    notice("the sandbox", stream=__import__("sys").stdout)
    out, err = capsys.readouterr()
    assert (out, err) == ("the sandbox\n", "campaign 'x': 3 rows\n")


def test_a_notice_escapes_what_it_shows() -> None:
    shown = Notice("rows <b>&</b>")
    assert repr(shown) == "rows <b>&</b>"
    assert "rows &lt;b&gt;&amp;&lt;/b&gt;" in shown._repr_html_()


def test_a_table_shows_percentages_and_blank_cells_and_never_cuts_text() -> None:
    frame = pd.DataFrame({"code": ["131026", None], "reason": [LONG_REASON, None],
                          "share": [2 / 3, float("nan")], "latency_ms": [12.3456, None]})
    shown = table(frame, percent=["share"])
    html, text = shown._repr_html_(), repr(shown)
    for drawing in (html, text):
        assert "66.7%" in drawing and "12.35" in drawing
        assert LONG_REASON in drawing  # whole, not "...".
        assert "NaN" not in drawing and "None" not in drawing and "nan" not in drawing
    assert html == table(frame, percent=["share"])._repr_html_()  # no random ids
    assert ' id="' not in html
    assert shown.frame is frame  # the data itself is untouched


def test_an_empty_table_says_so() -> None:
    assert repr(table(pd.DataFrame(columns=["code", "share"]))) == "(no rows; columns: code, share)"


def store_with_failures() -> ReceiptStore:
    store = ReceiptStore()
    store.add([receipt(0, "Sent"), receipt(0, "Read", Timestamp=1_691_043_640_000),
               receipt(1, "Failed", ErrorCode="131026", ErrorDescription=LONG_REASON),
               receipt(2, "Failed", ErrorCode="131049",
                       ErrorDescription="131049:This message was not delivered")])
    return store


def test_the_funnel_shows_rates_as_percentages_and_reasons_once_whole() -> None:
    funnel = store_with_failures().funnel()
    html = funnel._repr_html_()
    assert "<td>33.3%</td>" in html and "0.333" not in html
    assert LONG_REASON.removeprefix("131026:") in html
    assert "131026:" not in html  # the code has its own column
    assert funnel.failures()["reason"].tolist() == [LONG_REASON.removeprefix("131026:"),
                                                    "This message was not delivered"]


def test_the_live_funnel_draws_the_same_tables_as_the_funnel() -> None:
    store = store_with_failures()
    live = store.live_funnel(interval=60)
    try:
        assert live.widget.value.startswith(store.funnel()._repr_html_())
        assert "receipt event(s) stored" in live.widget.value
    finally:
        live.stop()
