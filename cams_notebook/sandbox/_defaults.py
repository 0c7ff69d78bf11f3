"""Named defaults of the sandbox, in one place (the CLI, the core and the docs read them here).

The key pair is public on purpose: the sandbox is a local fake of CAMS, so anyone may sign
requests with it, and the notebooks use it out of the box.
"""

from __future__ import annotations

DEFAULT_ACCESS_KEY_ID = "sandbox-access-key-id"
"""The AccessKeyId the sandbox accepts unless told otherwise."""
DEFAULT_ACCESS_KEY_SECRET = "sandbox-access-key-secret"
"""The AccessKeySecret paired with :data:`DEFAULT_ACCESS_KEY_ID`; not a secret."""
DEFAULT_HOST = "127.0.0.1"
"""Loopback only: the sandbox must not be reachable from the network by accident."""
DEFAULT_PORT = 8787
DEFAULT_LATENCY = (0.0, 0.0)
"""Simulated service latency as (mean, jitter) in seconds: none unless asked for."""
DEFAULT_FAULTS = "none"
"""The fault profile: a well-behaved service unless asked for trouble."""
DEFAULT_SEED = 0
