"""The encoder thread: frames go from the rendering (GUI) thread through a small queue to a :class:`FileWriter`.

Qt widgets can only be painted on the GUI thread, so rendering stays there; encoding (palette
quantization for GIF, libx264 through imageio-ffmpeg for MP4) runs in this Python thread, so the
two overlap on two cores.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from .errors import ExportError, describe_error
from .file_writer import FileWriter

__all__ = ["END", "QUEUE_FRAMES", "Encoder"]

#: Frames waiting for the encoder: enough to absorb jitter, few enough to bound memory
#: (4 × 2.7 MB at 1280×720).
QUEUE_FRAMES = 4
#: Put after the last frame: the encoder commits the file and ends.
END = object()


class Encoder:
    """Feeds frames from a small queue to a :class:`FileWriter` in a Python thread.

    The thread owns the writer from :meth:`start` on: it commits after the end marker, and aborts
    (temporary file removed) on :meth:`stop` or on any error, which it keeps in :attr:`error`.
    """

    def __init__(self, writer: FileWriter, maxsize: int = QUEUE_FRAMES):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.committed = False
        self.done = 0
        self.busy = 0.0  # seconds spent encoding, for the benchmark
        self.thread = threading.Thread(target=self._run, name=f"opscope-export {writer.name}")

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    item = self.queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if self.stop_event.is_set():
                    break
                t0 = time.perf_counter()
                if item is END:
                    self.writer.commit()
                    self.committed = True
                    self.busy += time.perf_counter() - t0
                    break
                # (frame, seconds) from a frame plan, or a bare frame shown once
                if isinstance(item, tuple):
                    self.writer.append(*item)
                else:
                    self.writer.append(item)
                self.busy += time.perf_counter() - t0
                self.done += 1
        except BaseException as exc:  # reported by the thread that renders; never lost in this one
            self.error = exc
        finally:
            if not self.committed:
                self.writer.abort()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def offer(self, item) -> bool:
        """Hand over a frame (or the end marker) without blocking; False when the queue is full."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def put(self, item, cancel: Callable[[], bool] | None = None) -> bool:
        """Hand over ``item``, waiting while the queue is full; False if cancelled or the encoder died."""
        while True:
            if self.error is not None or not self.alive() or (cancel is not None and cancel()):
                return False
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue

    def stop(self, wait: bool = True) -> None:
        """Abandon the export: the thread stops and removes the temporary file."""
        self.stop_event.set()
        if wait and self.thread.ident is not None:
            self.thread.join()

    def failure(self) -> ExportError | None:
        """The thread's error as an :class:`ExportError` naming the file, or None."""
        if self.error is None:
            return None
        if isinstance(self.error, ExportError):
            return self.error
        return ExportError(f"{self.writer.name}: cannot write it ({describe_error(self.error)})")
