"""Receipts: delivery statuses, inbound messages and audit events, and what a campaign owner
does with them.

``events`` (the records, body decoding, the status state machine, the join onto a result),
``audit`` (ChatAppAudit events: number, template and account changes, and which stop a
campaign), ``store`` (SQLite, de-duplicated, durable before acknowledged; ``store_queries``:
what a running campaign asks it), ``queue`` (pulling from the account's SMQ queues),
``server`` (HTTP pushes) and ``funnel`` (sent -> delivered -> read). It imports the core only.
"""
