"""The shared kernel every component may import, and which imports no component.

The table model and key classification, the error hierarchy, the settings engine, the AWS client
factory and error translation, logging, the deployed shape (``deployment_spec``) and the event
lookup that the handler and the reconciler must share. It ships in the Lambda asset, so it stays
small and depends on nothing beyond boto3 and structlog.
"""
