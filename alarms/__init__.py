"""CloudWatch alarms as code: one specification rendered by both the CLI and the CDK app."""
