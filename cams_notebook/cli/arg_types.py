"""Argument types the commands share: a port and a rate, each refused in one line that names
the flag's value and the rule (argparse turns ``ArgumentTypeError`` into a usage error, exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["port", "qps"]


def port(lowest: int = 0) -> Callable[[str], int]:
    """A TCP port from ``lowest`` (0: any free one; 1 where the URL must be known) to 65535."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"port must be an integer, got {text!r}") from None
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(f"port must be in {lowest}..65535, got {value}")
        return value

    return parse


def qps(text: str) -> int:
    """Requests per second: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"qps must be a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"qps must be greater than 0, got {value}")
    return value
