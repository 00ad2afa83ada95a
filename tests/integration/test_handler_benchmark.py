"""``benchmarks/handler.py`` runs at a tiny size (so it cannot rot between ``make bench`` runs),
and its pricing of requests agrees with the ledger's cost test."""

from __future__ import annotations

from benchmarks.handler import delayed_moto, item_size, local_clients, measure, table_markdown


def test_the_handler_benchmark_runs_and_prices_each_scenario_as_the_cost_test_does() -> None:
    with delayed_moto(1) as endpoint:
        rows = measure(local_clients(endpoint), batches=1)
    text = table_markdown(rows, delay_ms=1, batches=1)

    rows = [line for line in text.splitlines() if line.startswith("| ") and "records," in line]
    assert len(rows) == 3
    ten_of_one, ten_of_ten, hundred = ([c.strip() for c in row.split("|")[1:-1]] for row in rows)
    assert ten_of_one[2] == "4 (1)"  # lookup (2 queries), BatchGetItem, transaction
    assert ten_of_ten[2] == "40 (10)"
    assert hundred[2] == "6 (1)"  # two chunks of at most 99 entries
    assert (ten_of_one[6], ten_of_ten[6], hundred[6]) == (
        "2.20 (0.10)",
        "4.00 (1.00)",
        "2.04 (0.01)",
    )
    assert (ten_of_one[7], ten_of_ten[7], hundred[7]) == ("1.30 (0)", "4.00 (0)", "1.04 (0)")


def test_an_item_is_sized_as_dynamodb_bills_it() -> None:
    item = {
        "pk": {"S": "FAD"},  # 2 + 3
        "attendeeCount": {"N": "1234"},  # 13 + 3
        "present": {"BOOL": True},  # 7 + 1
    }
    assert item_size(item) == 29
