"""One of two campaign processes started together on one journal
(tests/integration/test_exactly_once.py).

``python journal_child.py URL JOURNAL ROWS QPS GO_FILE`` waits until ``GO_FILE`` exists (so
both processes start their send at the same moment), sends ``ROWS`` template messages with
``send_frame(journal=JOURNAL)`` and prints one JSON line: the status counts, or the journal
error it got (its class and text) and exit code 3.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd

from cams_notebook import Client
from cams_notebook.campaigns.frames import send_frame
from cams_notebook.campaigns.journal import JournalError


def main(url: str, journal: str, rows: int, qps: int, go: str) -> int:
    frame = pd.DataFrame({"to": [f"86139{i:08d}" for i in range(rows)], "name": "Ada",
                          "order_id": [f"A-{i}" for i in range(rows)]})
    client = Client(access_key_id="sandbox-access-key-id",
                    access_key_secret="sandbox-access-key-secret", endpoint=url, timeout=5.0)
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        result = send_frame(frame, client=client, qps=qps, journal=journal, progress=False,
                            channel_type="whatsapp", type="template", from_="8613800000000",
                            template_code="830174529611842305", language="en",
                            params=["name", "order_id"])
    except JournalError as error:
        print(json.dumps({"error": type(error).__name__, "text": str(error)}), flush=True)
        return 3
    print(json.dumps({"status": result["status"].value_counts().to_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
