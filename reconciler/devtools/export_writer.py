"""Write AWS's DynamoDB export layout, for tests and benchmarks.

moto's own export writes one JSON array, not what DynamoDB writes; the reconciler must be
tested on the real layout: ``AWSDynamoDB/<export-id>/manifest-summary.json``,
``manifest-files.json`` (one line per data file) and ``data/<name>.json.gz`` holding one
``{"Item": {...}}`` per line. As DynamoDB does, each data file holds whole partitions (an
item's file is chosen by its partition key), so a slug's attendees sit in one file.

Two sources: a deterministic generator (events, attendees per event, a drift percentage, all
from a seed) and a live table's contents (a scan), each returning the slugs whose counter
disagrees with their attendee count, the truth a recount must find.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.kernel.aws import aws_call
from reconciler.kernel.model import ItemKind, TableModel, classify, integer_attribute
from reconciler.reconcile.export_location import EXPORT_ROOT
from reconciler.reconcile.export_manifest import DATA_DIRECTORY, FILES_NAME, SUMMARY_NAME

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GeneratedExport:
    """Where the export was written and what a correct recount of it must find."""

    directory: Path
    """``<root>/AWSDynamoDB/<export-id>``: what the reconciler is pointed at."""
    export_time: datetime
    items: int
    drifted: frozenset[str]
    counts: dict[str, int] = field(default_factory=dict)
    """Attendee items per event slug (the truth)."""


@dataclass(frozen=True, slots=True)
class ExportSpec:
    events: int
    attendees_per_event: int
    drift_percent: float = 1.0
    files: int = 4
    seed: int = 0
    other_items: int = 0
    """Items that are neither events nor attendees (a lease item, stray keys)."""


def _file_of(pk: str, files: int) -> int:
    return int.from_bytes(hashlib.sha256(pk.encode("utf-8")).digest()[:4], "big") % files


class _DataFiles:
    """N gzip files of ``{"Item": ...}`` lines, each item sent to its partition's file."""

    def __init__(self, directory: Path, files: int, seed: int, stack: ExitStack) -> None:
        (directory / DATA_DIRECTORY).mkdir(parents=True)
        rng = random.Random(seed)
        self.names = [f"{rng.getrandbits(64):016x}{index:04d}.json.gz" for index in range(files)]
        self.paths = [directory / DATA_DIRECTORY / name for name in self.names]
        self.counts = [0] * files
        self._last_pk, self._last_index = "", _file_of("", files)
        self._streams: list[TextIO] = [
            # The caller's ExitStack closes them all, however writing ends.
            stack.enter_context(gzip.open(path, "wt", encoding="utf-8", compresslevel=1))  # noqa: SIM115
            for path in self.paths
        ]

    def write(self, pk: str, line: str) -> None:
        if pk != self._last_pk:  # an event's attendees come together: hash their key once
            self._last_pk, self._last_index = pk, _file_of(pk, len(self._streams))
        index = self._last_index
        self._streams[index].write(line)
        self.counts[index] += 1


def _write_manifests(
    directory: Path, export_id: str, data: _DataFiles, export_time: datetime
) -> int:
    lines = []
    for path, count in zip(data.paths, data.counts, strict=True):
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()
        entry = {
            "itemCount": count,
            "md5Checksum": base64.b64encode(digest).decode("ascii"),
            "etag": digest.hex(),
            "dataFileS3Key": f"{EXPORT_ROOT}/{export_id}/{DATA_DIRECTORY}/{path.name}",
        }
        lines.append(json.dumps(entry) + "\n")
    (directory / FILES_NAME).write_text("".join(lines), encoding="utf-8")
    total = sum(data.counts)
    stamp = export_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/registrations"
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{arn}/export/{export_id}",
        "startTime": stamp,
        "endTime": stamp,
        "tableArn": arn,
        "exportTime": stamp,
        "s3Bucket": "local",
        "s3Prefix": None,
        "s3SseAlgorithm": "AES256",
        "manifestFilesS3Key": f"{EXPORT_ROOT}/{export_id}/{FILES_NAME}",
        "billedSizeBytes": sum(path.stat().st_size for path in data.paths),
        "itemCount": total,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    (directory / SUMMARY_NAME).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return total


def write_items(
    root: Path,
    items: Iterable[Item],
    *,
    model: TableModel,
    files: int = 4,
    seed: int = 0,
    export_time: datetime | None = None,
) -> tuple[Path, int, datetime]:
    """Write ``items`` (DynamoDB JSON maps) as an export under ``root``."""

    def lines() -> Iterator[tuple[str, str]]:
        for item in items:
            pk = item.get(model.pk_attr, {}).get("S", "")
            yield str(pk), json.dumps({"Item": item}, separators=(",", ":")) + "\n"

    return _write_lines(root, lines(), files=files, seed=seed, export_time=export_time)


def _write_lines(
    root: Path,
    lines: Iterable[tuple[str, str]],
    *,
    files: int,
    seed: int,
    export_time: datetime | None,
) -> tuple[Path, int, datetime]:
    """Write ``(partition key, line)`` pairs as an export under ``root``."""
    rng = random.Random(seed)
    export_id = f"{rng.getrandbits(40):013d}-{rng.getrandbits(32):08x}"
    directory = root / EXPORT_ROOT / export_id
    when = export_time or datetime.now(UTC)
    with ExitStack() as stack:
        data = _DataFiles(directory, files, seed, stack)
        for pk, line in lines:
            data.write(pk, line)
    (directory / "_started").touch()
    return directory, _write_manifests(directory, export_id, data, when), when


_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_PROFESSIONS = ("engineer", "designer", "student", "researcher", "manager")


def _attendee(model: TableModel, slug: str, number: int) -> Item:
    """An attendee item of the registration system's shape (invented names), so that the
    benchmark parses lines of the size a real export holds, not bare keys."""
    first, last = _FIRST[number % len(_FIRST)], _LAST[number // len(_FIRST) % len(_LAST)]
    email = f"{first.lower()}.{last.lower()}{number}@{slug}.example.com"
    return {
        model.pk_attr: {"S": model.attendee_pk(slug)},
        model.sk_attr: {"S": email},
        "firstName": {"S": first},
        "lastName": {"S": last},
        "email": {"S": email},
        "phone": {"S": f"+1555{number:07d}"},
        "profession": {"S": _PROFESSIONS[number % len(_PROFESSIONS)]},
        "eventType": {"S": "conference"},
    }


def _line(item: Item) -> str:
    return json.dumps({"Item": item}, separators=(",", ":")) + "\n"


def _attendee_template(model: TableModel) -> str:
    """:func:`_attendee`'s line as a ``str.format`` template (the values are plain ASCII)."""
    line = _line(_attendee(model, "zz-slug-zz", 0)).replace("{", "{{").replace("}", "}}")
    for value, placeholder in (
        ("ada.lovelace0@", "{lower}{number}@"),
        ("+15550000000", "+1555{number:07d}"),
        ('"Ada"', '"{first}"'),
        ('"Lovelace"', '"{last}"'),
        ('"engineer"', '"{profession}"'),
        ("zz-slug-zz", "{slug}"),
    ):
        line = line.replace(value, placeholder)
    return line


def _generated(spec: ExportSpec, model: TableModel, drifted: set[str]) -> Iterator[tuple[str, str]]:
    """``(partition key, line)`` pairs; each event's attendee lines are rendered once as a
    template and filled per attendee, since a benchmark export holds tens of millions."""
    rng = random.Random(spec.seed)
    width = len(str(spec.events))
    template = _attendee_template(model)
    for number in range(spec.events):
        slug = f"ev{number:0{width}d}"
        counter = spec.attendees_per_event
        if rng.random() * 100 < spec.drift_percent:
            drifted.add(slug)
            counter += rng.choice((-3, -2, -1, 1, 2, 3))
        partition = model.event_partitions[number % len(model.event_partitions)]
        event = {
            model.pk_attr: {"S": partition},
            model.sk_attr: {"S": f"{slug}{model.separator}2026-01-01"},
            model.counter_attr: {"N": str(counter)},
            model.version_attr: {"N": str(rng.randrange(1, 1000))},
        }
        yield partition, _line(event)
        pk = model.attendee_pk(slug)
        for attendee in range(spec.attendees_per_event):
            first = _FIRST[attendee % len(_FIRST)]
            last = _LAST[attendee // len(_FIRST) % len(_LAST)]
            yield (
                pk,
                template.format(
                    slug=slug,
                    number=attendee,
                    first=first,
                    last=last,
                    lower=f"{first.lower()}.{last.lower()}",
                    profession=_PROFESSIONS[attendee % len(_PROFESSIONS)],
                ),
            )
    for number in range(spec.other_items):
        yield (
            "_RECONCILER",
            _line({model.pk_attr: {"S": "_RECONCILER"}, model.sk_attr: {"S": f"other-{number}"}}),
        )


def generate_export(
    root: Path, spec: ExportSpec, model: TableModel | None = None
) -> GeneratedExport:
    """A deterministic export: ``spec.events`` events, each with ``attendees_per_event``
    attendee items; about ``drift_percent`` of the counters off by one to three."""
    model = model or TableModel()
    drifted: set[str] = set()
    directory, items, when = _write_lines(
        root, _generated(spec, model, drifted), files=spec.files, seed=spec.seed, export_time=None
    )
    width = len(str(spec.events))
    counts = {f"ev{n:0{width}d}": spec.attendees_per_event for n in range(spec.events)}
    return GeneratedExport(directory, when, items, frozenset(drifted), counts)


def _scan(client: DynamoDBClient, table_name: str) -> Iterator[Item]:
    paginator = client.get_paginator("scan")
    with aws_call("Scan", table_name):
        for page in paginator.paginate(TableName=table_name, ConsistentRead=True):
            yield from page.get("Items", [])


def export_table(
    root: Path,
    client: DynamoDBClient,
    table_name: str,
    *,
    model: TableModel | None = None,
    files: int = 4,
    export_time: datetime | None = None,
    seed: int = 0,
) -> GeneratedExport:
    """Export a (moto or dynalite) table's live contents in AWS's layout (``seed`` sets the
    export id: exports written side by side need different seeds). The drifted slugs are
    those whose single event item's counter is not its attendee count; binary attributes, which
    an export writes as base64, are not expected in such test tables."""
    model = model or TableModel()
    counts: Counter[str] = Counter()
    counters: dict[str, list[int | None]] = {}

    def observed(items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            ref = classify(item[model.pk_attr].get("S"), item[model.sk_attr].get("S"), model)
            if ref.kind is ItemKind.ATTENDEE:
                counts[ref.slug] += 1
            elif ref.kind is ItemKind.EVENT:
                raw = item.get(model.counter_attr)
                counters.setdefault(ref.slug, []).append(integer_attribute(raw))
            yield item

    directory, items, when = write_items(
        root,
        observed(_scan(client, table_name)),
        model=model,
        files=files,
        seed=seed,
        export_time=export_time,
    )
    drifted = frozenset(
        slug
        for slug, stored in counters.items()
        if len(stored) == 1 and stored[0] != counts.get(slug, 0)
    )
    truth = {slug: counts.get(slug, 0) for slug in counters}
    return GeneratedExport(directory, when, items, drifted, truth)


def upload_export(s3: Any, directory: Path, bucket: str, prefix: str = "") -> str:
    """Copy a local export (``<root>/AWSDynamoDB/<export-id>``) to ``s3://bucket/prefix``
    under the same ``AWSDynamoDB/<export-id>/`` layout DynamoDB writes; returns the export's
    URI. The manifests go last, as DynamoDB writes the summary once the data is complete."""
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    export_key = f"{base}{EXPORT_ROOT}/{directory.name}/"
    manifests = [directory / FILES_NAME, directory / SUMMARY_NAME]
    # The data files, and whatever else lies beside them (a snapshot the Spark job wrote).
    others = sorted(p for p in directory.rglob("*") if p.is_file() and p not in manifests)
    with aws_call("PutObject"):
        for path in [*others, *(m for m in manifests if m.exists())]:
            key = export_key + path.relative_to(directory).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return f"s3://{bucket}/{export_key}"
