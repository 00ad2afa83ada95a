"""Runbook links in alarm descriptions: one absolute URL per alarm key, from one template.

A notification is read in an email client or a pager app, where a relative link such as
``README.md#...`` resolves nowhere; so the template must be an absolute http(s) URL, and its
``{name}`` placeholder becomes the alarm key (``handler-errors``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.kernel.errors import ConfigError

PLACEHOLDER = "{name}"
MAX_TEMPLATE_LENGTH = 512
"""Leaves room in CloudWatch's 1024-character description for the alarm's own text."""


def runbook_url(template: str, key: str) -> str:
    """``str.replace``, not ``str.format``: a URL may hold other braces (wiki macros, say)."""
    return template.replace(PLACEHOLDER, key)


def check_runbook_url_template(template: str, label: str) -> str:
    """The template, stripped, or a ConfigError naming ``label`` and what a good one looks like."""
    text = template.strip()
    if PLACEHOLDER not in text:
        raise ConfigError(
            label, f"must contain {PLACEHOLDER} (replaced by the alarm key), got {template!r}"
        )
    parts = urlsplit(runbook_url(text, "handler-errors"))
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in text):
        raise ConfigError(
            label,
            "must be an absolute http(s) URL such as "
            f"https://wiki.example.com/runbooks/{PLACEHOLDER}, got {template!r}",
        )
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise ConfigError(label, f"must be at most {MAX_TEMPLATE_LENGTH} characters")
    return text
