"""dynalite, an independent DynamoDB implementation (npm), started on loopback for tests and
benchmarks, so the reconciler's reads and conditional writes do not rest on one emulator.

``make tools`` installs it into ``.tools/node_modules``. Its CLI cannot bind port 0, so a tiny
node script does: it listens on 127.0.0.1, an ephemeral port, and prints the port.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType

TOOLS = Path(__file__).resolve().parent.parent / ".tools"

_SCRIPT = """
const dynalite = require('dynalite');
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, '127.0.0.1', () => { console.log(server.address().port); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"""


class DynaliteMissingError(RuntimeError):
    """dynalite is not installed: run ``make tools``."""


class Dynalite:
    """A dynalite process; exits when stopped or when this Python process dies (its stdin
    closes), so no server is ever left behind."""

    def __init__(self, tools: Path = TOOLS) -> None:
        self._tools = tools
        self._process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> str:
        node = shutil.which("node")
        if node is None or not (self._tools / "node_modules" / "dynalite").is_dir():
            raise DynaliteMissingError(
                f"dynalite is not installed under {self._tools}: run `make tools`"
            )
        self._process = subprocess.Popen(
            [node, "-e", _SCRIPT],
            cwd=self._tools,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"dynalite did not start (printed {line!r})")
        self.endpoint = f"http://127.0.0.1:{line}"
        return self.endpoint

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def __enter__(self) -> Dynalite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
