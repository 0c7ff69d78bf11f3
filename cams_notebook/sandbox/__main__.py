"""``python -m cams_notebook.sandbox``: the ``cams-notebook sandbox`` command
(:mod:`cams_notebook.cli.sandbox`)."""

from __future__ import annotations

import sys

from ..cli.sandbox import main

if __name__ == "__main__":
    sys.exit(main())
