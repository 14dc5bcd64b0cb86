"""The receiver RQ jobs of the hand-off tests import: `RQHandoff(queue,
receiver="tests.support.handoff_rq_app:receiver")`."""

from __future__ import annotations

from .handoff_ledger import RecordingReceiver

receiver = RecordingReceiver()  # the ledger named by the worker's environment
