"""One campaign run against a loopback sandbox; the chaos tests start it in a subprocess.

``python chaos_child.py URL JOURNAL ROWS QPS TIMEOUT [OUT]`` sends ``ROWS`` template
messages (one per recipient of :func:`recipients`) with ``send_frame(journal=JOURNAL)``;
with ``OUT``, the result is pickled there once the run ends. The kill test SIGKILLs runs
mid-way and starts them again with the same journal until one ends.
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd

from cams_notebook import Client
from cams_notebook.campaigns.frames import send_frame

KEY_ID, SECRET = "sandbox-access-key-id", "sandbox-access-key-secret"
CAMPAIGN: dict[str, Any] = {
    "channel_type": "whatsapp", "type": "template", "from_": "8613800000000",
    "template_code": "830174529611842305", "language": "en", "params": ["name", "order_id"],
}
"""The sandbox's ``order_shipped`` template; ``params`` names the variable columns."""


def recipients(rows: int) -> pd.DataFrame:
    """``rows`` distinct recipients with their template variables, indexed 0..rows-1."""
    return pd.DataFrame({"to": [f"86139{i:08d}" for i in range(rows)], "name": "Ada",
                         "order_id": [f"A-{i}" for i in range(rows)]})


def client_for(url: str, timeout: float) -> Client:
    return Client(access_key_id=KEY_ID, access_key_secret=SECRET, endpoint=url, timeout=timeout)


def main(url: str, journal: str, rows: int, qps: int, timeout: float, out: str | None) -> None:
    result = send_frame(recipients(rows), client=client_for(url, timeout), qps=qps, sender_mps=None,
                        journal=journal,
                        progress=False, **CAMPAIGN)
    if out:
        result.to_pickle(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
         sys.argv[6] if len(sys.argv) > 6 else None)
