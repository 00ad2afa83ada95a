from __future__ import annotations

import io
import json
import logging

from reconciler.kernel.logs import configure_logging, get_logger


def test_production_logs_are_json_lines_with_snake_case_events():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger("t").info("counter_corrected", slug="tech", delta=2)
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["event"] == "counter_corrected"
    assert record["slug"] == "tech"
    assert record["level"] == "info"
    assert "timestamp" in record


def test_stdlib_loggers_share_the_same_renderer():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    logging.getLogger("apscheduler.scheduler").warning("job missed")
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["event"] == "job missed"
    assert record["level"] == "warning"


def test_personal_data_keys_are_redacted_even_if_passed_by_mistake():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger("t").info("oops", email="ada@example.com", phone="+44 20 7946 0958")
    text = out.getvalue()
    assert "ada@example.com" not in text
    assert "7946" not in text


def test_the_sdk_stays_quiet_even_at_debug_because_its_debug_lines_hold_items_and_tokens():
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    logging.getLogger("botocore.endpoint").debug("Sending request {'Item': 'ada@example.com'}")
    logging.getLogger("botocore.auth").debug("X-Amz-Security-Token: secret")
    get_logger("t").debug("our_own_debug_line")
    text = out.getvalue()
    assert "ada@example.com" not in text
    assert "secret" not in text
    assert "our_own_debug_line" in text
