"""One PNG, GIF or MP4 file, written to a temporary file beside its target and moved over it when complete.

A cancelled or failed export leaves no partial file and the previous file intact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np

from .errors import ExportError
from .options import MP4_BLOCK, frame_repeats

__all__ = ["MP4_QUALITY", "FileWriter"]

#: imageio's 0–10 quality scale; for libx264 it becomes ``-crf round(51 × (1 − q/10))`` = 15 for 7:
#: visually lossless for flat colours and text, which is what the canvas is made of.
MP4_QUALITY = 7


def _move_into_place(tmp: str, path: str) -> None:
    """Make ``tmp`` durable, give it the permissions of the file it replaces and rename it over ``path``.

    This is :func:`compute.io.atomic.atomic_open`'s ending, which cannot be called here: ffmpeg writes
    the MP4 itself and needs a real file name whose extension picks the container, and GIF and PNG
    share the path so that all three fail early and clean up alike. So the umask read once at import
    (``os.umask`` can only be read by setting it, which would race with the encoder thread) and the
    folder fsync are borrowed from that module, here and nowhere else, rather than copied.
    """
    from opscope.compute.io.atomic import _UMASK, _fsync_folder

    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_UMASK
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)
    os.replace(tmp, path)
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


class FileWriter:
    """One animation file, written to a temporary file beside ``path`` and moved over it by
    :meth:`commit`; :meth:`abort` removes the temporary file. Used from one thread at a time."""

    def __init__(self, path: str | os.PathLike, fmt: str, size: tuple[int, int], fps: float):
        self.path = os.fspath(path)
        self.fmt = fmt
        self.size = size
        self.fps = fps
        self.name = os.path.basename(self.path) or self.path
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ExportError(f"{self.name}: cannot write it (folder {folder} does not exist)")
        if os.path.isdir(self.path):
            raise ExportError(f"{self.path} is a folder")
        ext = os.path.splitext(self.path)[1].lower()
        try:
            # the temporary name keeps the extension: ffmpeg picks the container from it
            fd, self.tmp = tempfile.mkstemp(dir=folder, prefix="." + self.name + ".", suffix=".tmp" + ext)
        except OSError as exc:
            raise ExportError(f"{self.name}: cannot write it ({exc.strerror or exc})") from exc
        os.close(fd)
        self._writer = None
        self._frames: list = []
        self._durations: list[float] = []  # GIF: milliseconds each frame is shown
        self.count = 0

    def append(self, frame: np.ndarray, seconds: float | None = None) -> None:
        """Add ``frame``, shown for ``seconds`` (default one frame, ``1 / fps``): a GIF stores it once
        with that duration, an MP4 repeats it ``round(seconds × fps)`` times (at least once)."""
        if frame.shape != (self.size[1], self.size[0], 3):
            raise ExportError(f"{self.name}: frame of shape {frame.shape}, expected {(self.size[1], self.size[0], 3)}")
        if self.fmt == "mp4":
            if self._writer is None:
                import imageio.v2 as iio2

                self._writer = iio2.get_writer(
                    self.tmp, format="FFMPEG", mode="I", fps=self.fps, codec="libx264", quality=MP4_QUALITY,
                    pixelformat="yuv420p", macro_block_size=MP4_BLOCK, ffmpeg_log_level="error",
                    # the index first, so a browser or slide deck can start playing before the end arrives
                    ffmpeg_params=["-movflags", "+faststart"])
            repeats = 1 if seconds is None else frame_repeats(seconds, self.fps)
            for _ in range(repeats):
                self._writer.append_data(frame)
            self.count += repeats - 1  # frames in the file (one more below)
        elif self.fmt == "gif":
            from PIL import Image

            # Quantized now, in the encoder thread, to one byte a pixel: Pillow keeps every GIF frame
            # until the end, and RGB frames would take three times the memory (a better reason than
            # style to call Pillow here rather than imageio's pillow plugin, which keeps RGB frames).
            # Fast octree: 7 ms a 1280×720 frame against 50 ms for median cut, with a similar colour
            # error on these flat heatmaps; no dithering, which would speckle flat cells and text.
            self._frames.append(Image.fromarray(frame, "RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                                                        dither=Image.Dither.NONE))
            self._durations.append(1000.0 / self.fps if seconds is None else 1000.0 * seconds)
        else:
            if self._frames:
                raise ExportError(f"{self.name}: a PNG holds one frame")
            self._frames.append(frame)
        self.count += 1

    def commit(self) -> None:
        """Finish the file and move it over ``path``."""
        if self.count == 0:
            raise ExportError(f"{self.name}: no frames were rendered")
        if self.fmt == "mp4":
            w, self._writer = self._writer, None
            w.close()
        elif self.fmt == "gif":
            frames, self._frames = self._frames, []
            durations, self._durations = self._durations, []
            # loop=0: forever; Pillow stores durations in 10 ms units (and merges identical neighbours,
            # adding their durations)
            frames[0].save(self.tmp, format="GIF", save_all=True, append_images=frames[1:],
                           duration=[int(round(d)) for d in durations], loop=0)
        else:
            import imageio.v3 as iio

            data = iio.imwrite("<bytes>", self._frames[0], extension=".png")
            with open(self.tmp, "wb") as f:
                f.write(data)
        if os.path.getsize(self.tmp) == 0:
            raise ExportError(f"{self.name}: the encoder wrote nothing")
        _move_into_place(self.tmp, self.path)
        self.tmp = None

    def abort(self) -> None:
        """Drop everything written so far; the target is untouched."""
        w, self._writer = self._writer, None
        if w is not None:
            with contextlib.suppress(Exception):  # ffmpeg may already have failed; the file goes anyway
                w.close()
        self._frames = []
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = None
