"""``send_frame`` with the caller's AsyncClient runs on a private event loop that ends with the
call: the connections it opened there are closed before that loop ends, and the client stays
usable on the next loop (another ``send_frame``, or the caller's own ``asyncio.run``).

Before, they stayed in the client's pool bound to the dead loop: the next call found them
unusable, and the garbage collector found their sockets open (a ResourceWarning, which this
suite turns into a failure).
"""

from __future__ import annotations

import asyncio
import gc

from cams_notebook import AsyncClient, send_frame
from cams_notebook.sandbox import Sandbox
from cams_notebook.sandbox.server import SandboxServer
from tests.chaos_child import CAMPAIGN, recipients


def _client(sandbox: Sandbox, server: SandboxServer) -> AsyncClient:
    kwargs = sandbox.client_kwargs(is_async=True)
    return AsyncClient(access_key_id=kwargs["access_key_id"],
                       access_key_secret=kwargs["access_key_secret"], endpoint=server.url)


def test_an_async_client_given_to_send_frame_keeps_no_connection_of_the_ended_loop(
        sandbox: Sandbox, sandbox_server: SandboxServer) -> None:
    client = _client(sandbox, sandbox_server)
    try:
        first = send_frame(recipients(20), client=client, progress=False, **CAMPAIGN)
        assert (first["status"] == "sent").all()
        assert "idle_connections=0" in repr(client._transport)

        # the same client, on another private loop, then on the caller's own loop
        again = send_frame(recipients(30).iloc[20:], client=client, progress=False, **CAMPAIGN)
        assert (again["status"] == "sent").all()
        template = asyncio.run(client.get_template(CAMPAIGN["template_code"], language="en"))
        assert template.template_code == CAMPAIGN["template_code"]
    finally:
        asyncio.run(client.aclose())
    gc.collect()  # an open socket left behind would warn here, and warnings are errors
    sent = {m["to"] for m in sandbox.messages()}
    assert sent == set(recipients(30)["to"])
