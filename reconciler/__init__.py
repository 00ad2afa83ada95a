"""Keeps DynamoDB ``attendeeCount`` counters exact beside a live stream handler."""

__version__ = "0.2.0"
