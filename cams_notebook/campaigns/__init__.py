"""Campaigns: a DataFrame becomes planned rows, sent by a paced engine, with a journal.

``plan`` (frame -> rows -> requests, no I/O), ``pacing`` (pure arithmetic), ``journal``
(what each row's request was and what became of it), ``engine`` (the paced asyncio send),
``frames`` (``send_frame``, ``validate_frame``, ``preview_frame``, the result and the
``frame.cams`` accessor) and ``reconcile`` (settling unknown rows from evidence). It imports
the core, and :mod:`cams_notebook.receipts` only to join receipts onto a result.
"""
