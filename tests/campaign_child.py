"""Run one campaign against a loopback sandbox; the kill test starts this in a subprocess.

``python campaign_child.py URL JOURNAL ROWS QPS`` sends ``ROWS`` template messages (the
recipients of :func:`recipients`) with ``send_frame(journal=JOURNAL)`` and prints the
result's status counts as JSON on its last line. The test SIGKILLs it mid-way, runs it
again with the same journal, and counts what the sandbox accepted.
"""

from __future__ import annotations

import json
import sys

import pandas as pd

from cams_notebook import Client
from cams_notebook.campaigns.frames import send_frame

SLOW = "15550100009"  # the sandbox answers after 30 s: unknown to a client with a short timeout


def recipients(rows: int) -> list[str]:
    numbers = [f"86139{i:08d}" for i in range(rows)]
    numbers[rows // 3] = SLOW  # sent early, before the kill
    return numbers


def main(url: str, journal: str, rows: int, qps: int) -> None:
    frame = pd.DataFrame({"to": recipients(rows), "name": "Ada",
                          "order_id": [f"A-{i}" for i in range(rows)]})
    client = Client(access_key_id="sandbox-access-key-id",
                    access_key_secret="sandbox-access-key-secret", endpoint=url, timeout=1.0)
    result = send_frame(frame, client=client, qps=qps, journal=journal, progress=False,
                        channel_type="whatsapp", type="template", from_="8613800000000",
                        template_code="830174529611842305", language="en",
                        params=["name", "order_id"])
    unknown = result.loc[result["status"] == "unknown", "to"].tolist()
    print(json.dumps({"status": result["status"].value_counts().to_dict(), "unknown": unknown}),
          flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
