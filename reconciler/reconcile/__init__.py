"""Race-safe reconciliation of ``attendeeCount``: a pure core, ports, and a DynamoDB shell.

``core`` decides, ``dynamo`` reads and writes, ``reconciler`` orders a pass in time and reports
it as a typed ``summary``; ``run`` and ``serve`` build one with
:func:`reconciler.reconcile.bootstrap.build_reconciler`.
"""
