"""The File › Export dialog: where and how to export a run, returned as :class:`~.options.ExportOptions`."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .errors import ExportError
from .options import (
    DEFAULT_FPS,
    DEFAULT_SIZE,
    HOLD_SECONDS,
    MAX_CARD_SECONDS,
    MAX_FPS,
    MAX_SIDE,
    MIN_FPS,
    MIN_SIDE,
    TITLE_SECONDS,
    ExportOptions,
    codec_size,
    export_format,
)

__all__ = ["FORMAT_TITLES", "GIF_LARGE_PIXELS", "ExportDialog"]

FORMAT_TITLES = {"png": "PNG image (one step)", "gif": "GIF animation (loops)", "mp4": "MP4 video (H.264)",
                 "svg": "SVG vector image (one step; text stays text)",
                 "pdf": "PDF vector page (one step; text stays text)"}
_STILLS = ("png", "svg", "pdf")
#: Above this many pixels in all, the dialog suggests MP4 instead of a GIF.
GIF_LARGE_PIXELS = 300 * 1280 * 720


class ExportDialog(QDialog):
    """Asks where and how to export a run: file (its extension picks PNG / SVG / PDF / GIF / MP4),
    step range, frames per second, size (default 1280×720), whether to burn in the caption, and for
    animations the title card's and the final hold's seconds (0: none).

    Steps are numbered 1..N here, as in the step read-out.

    Parameters
    ----------
    tl : compute.Timeline
        The run to export.
    parent : QWidget, optional
    path : str
        Initial file name.
    step : int, optional
        0-based current step: the default for a PNG.
    fps : float
        Initial frames per second.
    title, description : str
        The title card's text (kept in the options).
    """

    def __init__(self, tl, parent: QWidget | None = None, path: str = "", step: int | None = None,
                 fps: float = DEFAULT_FPS, title: str = "", description: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(460)  # room for a real path
        total = len(tl)
        self._total = total
        self._step = 0 if step is None else max(0, min(int(step), total - 1))
        self.path_edit = QLineEdit(path)
        self.path_edit.setPlaceholderText("animation.mp4, animation.gif or frame.png")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format_label = QLabel()
        self.first_spin = QSpinBox()
        self.last_spin = QSpinBox()
        for s in (self.first_spin, self.last_spin):
            s.setRange(1, max(1, total))
        self.first_spin.setValue(1)
        self.last_spin.setValue(max(1, total))
        self.first_spin.valueChanged.connect(lambda v: self.last_spin.setValue(max(v, self.last_spin.value())))
        self.last_spin.valueChanged.connect(lambda v: self.first_spin.setValue(min(v, self.first_spin.value())))
        steps_row = QHBoxLayout()
        steps_row.addWidget(self.first_spin)
        self.to_label = QLabel("to")
        steps_row.addWidget(self.to_label)
        steps_row.addWidget(self.last_spin)
        steps_row.addWidget(QLabel(f"of {total}"))
        steps_row.addStretch(1)
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(MIN_FPS, MAX_FPS)
        self.fps_spin.setDecimals(1)
        self.fps_spin.setValue(float(fps))
        self.fps_spin.setSuffix(" frames/s")
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for s, v in ((self.width_spin, DEFAULT_SIZE[0]), (self.height_spin, DEFAULT_SIZE[1])):
            s.setRange(MIN_SIDE, MAX_SIDE)
            s.setValue(v)
            s.setSuffix(" px")
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addStretch(1)
        self.caption_check = QCheckBox("Burn in the caption and step number")
        self.caption_check.setChecked(True)
        self._title, self._description = title, description
        self.title_spin = QDoubleSpinBox()
        self.hold_spin = QDoubleSpinBox()
        for spin, value in ((self.title_spin, TITLE_SECONDS), (self.hold_spin, HOLD_SECONDS)):
            spin.setRange(0.0, MAX_CARD_SECONDS)
            spin.setDecimals(1)
            spin.setSingleStep(0.5)
            spin.setSuffix(" s")
            spin.setSpecialValueText("none")
            spin.setValue(value)
        self.title_spin.setToolTip("The title card before the first step: the lesson's title and description")
        self.hold_spin.setToolTip("How long the last step stays beyond its own frame (a GIF then loops)")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("File:", row)
        form.addRow("Format:", self.format_label)
        form.addRow("Steps:", steps_row)
        form.addRow("Speed:", self.fps_spin)
        form.addRow("Size:", size_row)
        form.addRow("", self.caption_check)
        form.addRow("Title card:", self.title_spin)
        form.addRow("Hold last step:", self.hold_spin)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.buttons)
        for sig in (self.path_edit.textChanged, self.first_spin.valueChanged, self.last_spin.valueChanged,
                    self.fps_spin.valueChanged, self.width_spin.valueChanged, self.height_spin.valueChanged,
                    self.title_spin.valueChanged, self.hold_spin.valueChanged):
            sig.connect(self._update)
        self._png_first_set = False
        self._update()

    def _browse(self) -> None:
        start = self.path_edit.text() or "animation.mp4"
        path, _ = QFileDialog.getSaveFileName(self, "Export", start,
                                              "MP4 video (*.mp4);;GIF animation (*.gif);;PNG image (*.png);;"
                                              "SVG vector image (*.svg);;PDF page (*.pdf)")
        if path:
            self.path_edit.setText(path)

    def _format(self) -> str | None:
        try:
            return export_format(self.path_edit.text().strip()) if self.path_edit.text().strip() else None
        except ExportError:
            return None

    def _update(self, *_args) -> None:
        fmt = self._format()
        text = self.path_edit.text().strip()
        ok = fmt is not None
        if fmt is None:
            self.format_label.setText("choose a file ending in .mp4, .gif, .png, .svg or .pdf" if not text else
                                      f"unsupported: {os.path.splitext(text)[1] or 'no extension'} "
                                      f"(use .mp4, .gif, .png, .svg or .pdf)")
        else:
            self.format_label.setText(FORMAT_TITLES[fmt])
        png = fmt in _STILLS  # a still: one step, no speed, no title card
        if png and not self._png_first_set:
            # a still: the step on screen, unless the user picks another
            self._png_first_set = True
            self.first_spin.setValue(self._step + 1)
        self.last_spin.setEnabled(not png)
        self.to_label.setEnabled(not png)
        self.fps_spin.setEnabled(not png)
        self.title_spin.setEnabled(not png)
        self.hold_spin.setEnabled(not png)
        size = (self.width_spin.value(), self.height_spin.value())
        if fmt is not None:
            w, h = codec_size(size, fmt)
            frames = 1 if png else self.last_spin.value() - self.first_spin.value() + 1
            parts = [f"{frames} frame{'s' if frames != 1 else ''} of {w}×{h}"]
            if not png:
                extra = self.title_spin.value() + self.hold_spin.value()
                parts.append(f"{frames / self.fps_spin.value() + extra:.1f} s"
                             + (f" with {extra:g} s of title card and hold" if extra else ""))
            if fmt == "gif" and frames * w * h > GIF_LARGE_PIXELS:
                # Pillow keeps every GIF frame (one byte a pixel) until the file is written
                parts.append(f"a large GIF (~{frames * w * h / 1e6:.0f} MB while writing): MP4 is far smaller")
            if (w, h) != size:
                parts.append("MP4 needs even sides")
            self.summary_label.setText(", ".join(parts) + ".")
        else:
            self.summary_label.setText("")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def options(self) -> ExportOptions:
        """The export as chosen (0-based steps)."""
        fmt = export_format(self.path_edit.text().strip())
        a = self.first_spin.value() - 1
        b = a + 1 if fmt in _STILLS else self.last_spin.value()
        return ExportOptions(path=self.path_edit.text().strip(), steps=tuple(range(a, b)),
                             fps=float(self.fps_spin.value()),
                             size=(self.width_spin.value(), self.height_spin.value()),
                             caption=self.caption_check.isChecked(),
                             title_seconds=float(self.title_spin.value()), hold_seconds=float(self.hold_spin.value()),
                             title=self._title, description=self._description)
