"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe.

Why a pipe and no library: ``--remote-debugging-pipe`` makes Chromium read commands on file
descriptor 3 and answer on 4, one NUL-terminated JSON message each, so a test needs neither a
websocket client nor a browser driver (playwright would bring its own browser build). What a
test asks is what a person gets: ``document.body.innerText`` is the text laid out on screen
(hidden elements excluded), and ``Page.captureScreenshot`` is the pixels.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT = 30.0

_COMPARE_SCRIPT = """(async () => {
  const pixels = async (data) => {
    const image = new Image();
    image.src = "data:image/png;base64," + data;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  };
  const one = await pixels(%s), other = await pixels(%s);
  const sizes = {one: [one.width, one.height], other: [other.width, other.height]};
  if (one.width !== other.width || one.height !== other.height) {
    return {...sizes, differing: one.width * one.height};
  }
  let differing = 0;
  for (let i = 0; i < one.data.length; i += 4) {
    for (let c = 0; c < 4; c++) {
      if (Math.abs(one.data[i + c] - other.data[i + c]) > %d) { differing++; break; }
    }
  }
  return {...sizes, differing};
})()"""


@dataclass(frozen=True)
class ImageDifference:
    one: list[int]
    """Width and height of the first image."""
    other: list[int]
    differing: int
    """Pixels that differ beyond the threshold (all of them when the sizes differ)."""

    @property
    def fraction(self) -> float:
        return self.differing / max(self.one[0] * self.one[1], 1)


def chromium_binary() -> str | None:
    return shutil.which("chromium")


class Chromium:
    """One browser with one page of a fixed size; :meth:`close` ends the process."""

    def __init__(self, profile: Path, *, width: int, height: int) -> None:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium is not installed: run scripts/install-tools.sh")
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()

        def on_fds_3_and_4() -> None:
            # Via copies above 9: either pipe may itself sit on 3 or 4 (a fresh interpreter's
            # first pipes do), and dup2 onto itself would keep its close-on-exec flag.
            reading = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            writing = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # tests run as root in CI containers
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--disable-gpu",
                "--font-render-hinting=none",
                "--force-color-profile=srgb",
                "--no-first-run",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=on_fds_3_and_4,  # noqa: PLW1509 - dup2 only, before exec
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            page=True,
        )
        self.send("Page.enable", page=True)

    # --- the protocol -------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, page: bool = False
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self._events.append(reply)

    def _wait_event(self, method: str) -> None:
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[: index + 1]
                    return
            self._events.append(self._read())

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self._from_browser], [], [], max(remaining, 0))
            if not readable:
                raise TimeoutError(f"chromium said nothing for {COMMAND_TIMEOUT}s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    # --- what tests use -----------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait for the load event (the page has no script to wait for)."""
        self._events.clear()
        self.send("Page.navigate", {"url": url}, page=True)
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            page=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def visible_text(self) -> str:
        return str(self.evaluate("document.body.innerText"))

    def screenshot(self) -> bytes:
        data = self.send("Page.captureScreenshot", {"format": "png"}, page=True)["data"]
        return base64.b64decode(data)

    def compare_pngs(self, one: bytes, other: bytes, *, threshold: int = 48) -> ImageDifference:
        """Decode both images in the browser (no imaging library in the test dependencies) and
        count the pixels where any channel differs by more than ``threshold`` of 255: text
        anti-aliasing that moves between Chromium releases stays below it, a changed layout
        or colour does not."""
        script = _COMPARE_SCRIPT % (
            json.dumps(base64.b64encode(one).decode()),
            json.dumps(base64.b64encode(other).decode()),
            threshold,
        )
        return ImageDifference(**self.evaluate(script))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")  # Chromium may exit before it answers
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)
