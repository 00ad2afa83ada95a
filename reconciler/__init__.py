"""Keeps DynamoDB ``attendeeCount`` counters exact beside a live stream handler."""

__version__ = "0.1.0"
