"""Receipts: delivery statuses and inbound messages, and what a campaign owner does with them.

``events`` (the records, body decoding, the status state machine, the join onto a result),
``store`` (SQLite, de-duplicated, durable before acknowledged), ``queue`` (pulling from the
account's SMQ queue), ``server`` (HTTP pushes) and ``funnel`` (sent -> delivered -> read).
It imports the core only.
"""
