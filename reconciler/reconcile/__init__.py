"""Race-safe reconciliation of ``attendeeCount``: a pure core, ports, and a DynamoDB shell.

``core`` decides, ``dynamo`` reads and writes, ``service`` orders a pass in time; ``run`` and
``serve`` build one with :func:`reconciler.reconcile.bootstrap.build_reconciler`.
"""
