"""Export: PNG, SVG and PDF stills and GIF / MP4 animations of a run, rendered offscreen at a fixed size.

Animations open with a title card (the lesson's title and description) and hold their last step
(:data:`TITLE_SECONDS`, :data:`HOLD_SECONDS`, both options); SVG and PDF are vector pages (text as
text, heatmap cells as rectangles), painted with Qt's own SVG and PDF engines (:mod:`.vector`).

Frames are never grabbed from the live window (ARCHITECTURE.md §7): an offscreen canvas is sized
to the export, stepped and painted into a preallocated image, with the caption and a "step n / N ·
stage" read-out burned in on a dark band below it. Rendering stays on the GUI thread (Qt widgets
can only be painted there); encoding runs in a Python thread fed by a small queue, so the two
overlap on two cores. Every file is written to a temporary file in the target's folder and moved
over the target only when complete: a cancelled or failed export leaves no partial file and the
previous file intact.

Modules
-------
- :mod:`.errors` — :class:`ExportError`, the one exception an export fails with.
- :mod:`.options` — formats, sizes, steps and speed, title card and hold, their checks, :class:`ExportOptions`.
- :mod:`.caption_band` — the caption band's geometry and painting, and the title card's.
- :mod:`.frames` — :class:`FrameRenderer`, :func:`render_frames`: steps to ``(H, W, 3)`` uint8 frames.
- :mod:`.file_writer` — one PNG / GIF / MP4 file, written beside its target and moved over it.
- :mod:`.vector` — :func:`export_vector`: one step as an SVG or a PDF page.
- :mod:`.encoder` — the encoder thread and its queue.
- :mod:`.blocking` — :func:`export_png`, :func:`export_animation`: blocking exports (scripts, the CLI, tests).
- :mod:`.dialog` — :class:`ExportDialog`, the File › Export dialog.
- :mod:`.runner` — :class:`ExportRunner`, :func:`start_export`: the window's export, responsive, with
  a progress dialog and Cancel.
- :mod:`.cli` — :func:`build_export_parser`, :func:`run_export`: the ``export`` sub-command of
  ``main.py`` (also ``python -m gui.export``).
"""

from __future__ import annotations

# ``X as X``: the single module's other public names (tests read EXIT_BAD_INPUT), still importable
# from here without widening ``__all__``.
from .blocking import export_animation, export_png
from .caption_band import BAND_COLOR as BAND_COLOR
from .caption_band import CAPTION_COLOR as CAPTION_COLOR
from .caption_band import READOUT_COLOR as READOUT_COLOR
from .caption_band import STAGE_COLOR as STAGE_COLOR
from .cli import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from .cli import build_export_parser, parse_size, parse_steps, run_export
from .cli import main as main
from .dialog import FORMAT_TITLES as FORMAT_TITLES
from .dialog import GIF_LARGE_PIXELS as GIF_LARGE_PIXELS
from .dialog import ExportDialog
from .encoder import QUEUE_FRAMES as QUEUE_FRAMES
from .errors import ExportError
from .file_writer import MP4_QUALITY as MP4_QUALITY
from .frames import MIN_LAYOUT as MIN_LAYOUT
from .frames import REFERENCE_SIZE as REFERENCE_SIZE
from .frames import FrameRenderer, render_frames
from .options import DEFAULT_FPS, DEFAULT_SIZE, FORMATS, ExportOptions, codec_size, export_format
from .options import HOLD_SECONDS as HOLD_SECONDS
from .options import MAX_FPS as MAX_FPS
from .options import MAX_SIDE as MAX_SIDE
from .options import MIN_FPS as MIN_FPS
from .options import MIN_SIDE as MIN_SIDE
from .options import MP4_BLOCK as MP4_BLOCK
from .options import STILL_FORMATS as STILL_FORMATS
from .options import TITLE_SECONDS as TITLE_SECONDS
from .options import check_size as check_size
from .options import frame_plan as frame_plan
from .runner import ExportRunner, start_export
from .vector import export_vector

# The public API, as the single module had it.
__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "FORMATS",
    "ExportDialog",
    "ExportError",
    "ExportOptions",
    "ExportRunner",
    "FrameRenderer",
    "build_export_parser",
    "codec_size",
    "export_animation",
    "export_format",
    "export_png",
    "export_vector",
    "parse_size",
    "parse_steps",
    "render_frames",
    "run_export",
    "start_export",
]
