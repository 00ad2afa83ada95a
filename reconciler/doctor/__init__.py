"""``reconciler doctor``: the deployment guide's validation and troubleshooting, as checks.

``gather`` collects facts from AWS (boto3 only there); ``checks`` decides pass, warn or fail
and the fix for each, from those facts alone, so every failure mode is unit-testable.
"""
