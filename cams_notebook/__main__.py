"""``python -m cams_notebook COMMAND``: the same entry point as the ``cams-notebook`` script."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
