"""The stream handler ``updateAttendeeCounter``: what the Lambda asset contains (with the kernel).

``entry`` is the Lambda entry point and the one place the handler is wired; ``batch`` applies a
batch; ``records`` parses stream records and ``ledger`` folds them over the counter's ledger
(both pure); ``ledger_store`` and the kernel's event lookup are its DynamoDB adapters; ``emf``
writes its metrics as log lines.
"""
