"""dynalite, an independent DynamoDB implementation (npm), started on loopback for tests and
benchmarks, so the reconciler's reads and conditional writes do not rest on one emulator.

``make tools`` installs it into ``.tools/node_modules``. Its CLI cannot bind port 0, so a tiny
node script does: it listens on 127.0.0.1, an ephemeral port, and prints the port.

On loopback a request costs well under a millisecond, which hides whatever a program does one
request at a time. ``delay_ms`` puts a round trip back: the script holds every request that long
(a timer, so held requests overlap as they do on a network) before dynalite sees it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from reconciler.kernel.errors import ReconcilerError

TOOLS = Path(__file__).resolve().parents[2] / ".tools"

_SCRIPT = """
const dynalite = require('dynalite');
const delayMs = Number(process.argv[1] || '0');
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
if (delayMs > 0) {
  const listeners = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    const handOn = () => { for (const listener of listeners) listener.call(server, req, res); };
    setTimeout(handOn, delayMs);
  });
}
server.listen(0, '127.0.0.1', () => { console.log(server.address().port + ' ' + delayMs); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"""
"""A held request's body is not lost: an unread request stream buffers until dynalite reads
it. The script prints the delay it applies beside the port, so a mistyped delay cannot pass."""


class DynaliteMissingError(ReconcilerError):
    """dynalite is not installed: run ``make tools``."""


class DynaliteStartError(ReconcilerError):
    """The node script did not report a port and the requested delay."""


class Dynalite:
    """A dynalite process; exits when stopped or when this Python process dies (its stdin
    closes), so no server is ever left behind."""

    def __init__(self, tools: Path = TOOLS, delay_ms: float = 0.0) -> None:
        if delay_ms < 0:
            raise ValueError("delay_ms must not be negative")
        self._tools = tools
        self._process: subprocess.Popen[str] | None = None
        self.delay_ms = delay_ms
        self.endpoint = ""

    def start(self) -> str:
        node = shutil.which("node")
        if node is None or not (self._tools / "node_modules" / "dynalite").is_dir():
            raise DynaliteMissingError(
                f"dynalite is not installed under {self._tools}: run `make tools`"
            )
        self._process = subprocess.Popen(
            [node, "-e", _SCRIPT, "--", f"{self.delay_ms:g}"],
            cwd=self._tools,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 2 or not line[0].isdigit() or float(line[1]) != self.delay_ms:
            self.stop()
            raise DynaliteStartError(
                f"dynalite did not start with a {self.delay_ms:g} ms delay (printed {line!r})"
            )
        self.endpoint = f"http://127.0.0.1:{line[0]}"
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
