"""The pytest plugin (cams_notebook.testing): the fake clock, the fixtures, and that it is a
plugin users get by installing the package, which their own fixtures override."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from cams_notebook import AsyncClient, Client, Message
from cams_notebook.sandbox import Sandbox
from cams_notebook.sandbox.outcomes import MAGIC_NUMBERS
from cams_notebook.sandbox.server import SandboxServer
from cams_notebook.testing import FakeClock
from tests.helpers import template_fields

pytest_plugins = ["pytester"]


async def test_the_fake_clock_moves_only_forward_and_only_when_told() -> None:
    clock = FakeClock(start=100.0)
    assert clock() == clock.now == 100.0
    clock.advance(-5)
    clock.sleep(1.5)
    await clock.asleep(0.5)
    assert clock() == 102.0 and clock.elapsed == 2.0
    assert 0 <= FakeClock()() - int(__import__("time").time()) <= 1  # the current whole second


def test_the_sandbox_runs_on_the_clock_and_its_waits_are_free(
        sandbox: Sandbox, sandbox_client: Client, clock: FakeClock) -> None:
    slow = next(n for n, outcome in MAGIC_NUMBERS.items() if outcome == "slow")
    client = sandbox.client(clock=clock, timeout=0.5)
    with pytest.raises(Exception):  # noqa: B017 - whichever error says the answer never came
        client.send(Message(**template_fields(to=slow)))
    assert clock.elapsed == pytest.approx(0.5)  # waited out the read timeout, on the fake clock
    sandbox_client.send(Message(**template_fields()))
    assert sandbox.messages()[-1]["time"] == clock()


async def test_the_async_client_reaches_the_same_sandbox(
        sandbox: Sandbox, async_sandbox_client: AsyncClient) -> None:
    await async_sandbox_client.send(Message(**template_fields()))
    assert len(sandbox.messages()) == 1


def test_the_server_serves_the_sandbox_to_a_client_on_the_real_clock(
        sandbox: Sandbox, sandbox_server: SandboxServer) -> None:
    with Client(endpoint=sandbox_server.url, **{k: v for k, v in sandbox.client_kwargs().items()
                                                if k not in ("transport", "endpoint")}) as client:
        client.send(Message(**template_fields()))
    assert len(sandbox.messages()) == 1
    with httpx.Client() as http:
        assert http.get(sandbox_server.url).status_code < 500


def test_a_user_s_own_fixture_of_the_same_name_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from cams_notebook.testing import FakeClock

        @pytest.fixture
        def clock():
            return FakeClock(start=1_800_000_000.0)

        def test_the_plugin_s_sandbox_runs_on_my_clock(sandbox, clock):
            assert sandbox.core.clock is clock and sandbox.core.clock() == 1_800_000_000.0

        class TestMySandbox:
            @pytest.fixture
            def sandbox(self):
                return "mine"

            def test_mine_wins(self, sandbox):
                assert sandbox == "mine"
    """)
    # a user's setup: no asyncio plugin needed, every warning an error
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio",
                                           "-W", "error")
    result.assert_outcomes(passed=2)


def test_the_plugin_is_an_installed_entry_point_and_not_imported_with_the_package() -> None:
    code = ("import sys, cams_notebook; from importlib.metadata import entry_points;"
            "print([e.value for e in entry_points(group='pytest11') if e.name == 'cams_notebook'],"
            " 'pytest' in sys.modules, 'cams_notebook.testing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert " ".join(out) == "['cams_notebook.testing'] False False"
