"""The editor's controls bar: shape (one spin box per axis), number of axes, dtype, fill and seed,
and the slice selectors of an N-d tensor's leading axes; kept showing the tensor after every change."""

from __future__ import annotations

import math

from opscope.compute.numbers import fmt_shape
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

from .options import DTYPES, MAX_NDIM, MAX_SIDE

__all__ = ["ShapeControls"]


class ShapeControls:
    """Mixin for :class:`~gui.editor.MatrixEditor`: builds and syncs the controls bar.

    The controls only ask for changes (``set_shape``, ``set_slice``, ``set_dtype`` of the host);
    the host calls :meth:`_sync_controls` after every change so they show the tensor as it is.
    """

    @property
    def fill_seed(self) -> int:
        """The seed random fills use (the seed box's value)."""
        return self._seed.value()

    def set_fill_seed(self, seed: int) -> None:
        """Start the seed box at ``seed`` (each input of an operation gets its own)."""
        self._seed.setValue(int(seed))

    def _build_controls(self) -> tuple[QHBoxLayout, QWidget]:
        """The controls row and the slice selectors' host widget; needs the host's ``_fill_menu``."""
        self._fill_button = QToolButton()
        self._fill_button.setText("Fill")
        self._fill_button.setMenu(self._fill_menu)
        self._fill_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._fill_button.setToolTip("Fill the whole tensor (every slice); random fills use the seed")
        self._seed = QSpinBox()
        self._seed.setRange(0, 2**31 - 1)
        self._seed.setValue(0)
        self._seed.setToolTip("Seed of the random fills: the same seed gives the same numbers")
        self._seed.setMinimumWidth(64)
        self._seed.setMaximumWidth(110)

        self._dtype_box = QComboBox()
        self._dtype_box.setToolTip("dtype: converting says which values change (Ctrl+Z undoes)")
        self._dtype_box.activated.connect(lambda _i: self.set_dtype(self._dtype_box.currentText()))

        # Shape: one spin box per axis ("2 × 3 × 4") and the number of axes.
        self._shape_row = QHBoxLayout()
        self._shape_row.setContentsMargins(0, 0, 0, 0)
        self._shape_row.setSpacing(2)
        self._shape_spins: list[QSpinBox] = []
        self._shape_host = QWidget()
        self._shape_host.setLayout(self._shape_row)
        self._ndim_spin = QSpinBox()
        self._ndim_spin.setRange(0, MAX_NDIM)
        self._ndim_spin.setKeyboardTracking(False)
        self._ndim_spin.setToolTip("Number of axes: more adds leading axes of size 1; fewer keeps the first slice")
        self._ndim_spin.valueChanged.connect(self._on_ndim_spin)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Shape"))
        controls.addWidget(self._shape_host)
        controls.addSpacing(6)
        controls.addWidget(QLabel("axes"))
        controls.addWidget(self._ndim_spin)
        controls.addSpacing(10)
        controls.addWidget(QLabel("dtype"))
        controls.addWidget(self._dtype_box)
        controls.addStretch(1)
        controls.addWidget(self._fill_button)
        controls.addWidget(QLabel("seed"))
        controls.addWidget(self._seed)

        # Slice selectors for the leading axes of an N-d tensor.
        self._slice_host = QWidget()
        self._slice_row = QHBoxLayout(self._slice_host)
        self._slice_row.setContentsMargins(0, 0, 0, 0)
        self._slice_row.setSpacing(2)
        self._slice_spins: list[QSpinBox] = []

        return controls, self._slice_host

    def _sync_controls(self) -> None:
        """Make title, shape, slice and dtype controls show the tensor (signals blocked: this is
        display, not a user change)."""
        a = self._array
        self._title.setText(
            f"<b style='font-size:13pt'>{self._name}</b>&nbsp;&nbsp;"
            f"<span style='color:#555'>{fmt_shape(a.shape)} · {a.dtype.name}</span>"
        )
        self.setWindowTitle(f"{self._name} {fmt_shape(a.shape)} {a.dtype.name}")

        if len(self._shape_spins) != a.ndim:
            self._rebuild_shape_spins(a.ndim)
        for axis, spin in enumerate(self._shape_spins):
            spin.blockSignals(True)
            spin.setRange(min(1, a.shape[axis]), max(MAX_SIDE, a.shape[axis]))
            spin.setValue(a.shape[axis])
            spin.blockSignals(False)
        self._ndim_spin.blockSignals(True)
        self._ndim_spin.setMaximum(max(MAX_NDIM, a.ndim))
        self._ndim_spin.setValue(a.ndim)
        self._ndim_spin.blockSignals(False)

        lead_axes = max(a.ndim - 2, 0)
        if len(self._slice_spins) != lead_axes:
            self._rebuild_slice_spins(lead_axes)
        for axis, spin in enumerate(self._slice_spins):
            spin.blockSignals(True)
            spin.setRange(0, max(a.shape[axis] - 1, 0))
            spin.setValue(self._lead[axis])
            spin.blockSignals(False)
        self._slice_host.setVisible(lead_axes > 0)
        if lead_axes:
            self._slice_name.setText(f"{self._name}[")
            n_slices = math.prod(a.shape[:lead_axes])
            self._slice_count.setText(f"one of {n_slices} slices of {fmt_shape(a.shape[-2:])}")

        self._dtype_box.blockSignals(True)
        self._dtype_box.clear()
        names = list(DTYPES)
        if a.dtype.name not in names:
            names.append(a.dtype.name)
        self._dtype_box.addItems(names)
        self._dtype_box.setCurrentText(a.dtype.name)
        self._dtype_box.blockSignals(False)

    def _rebuild_shape_spins(self, ndim: int) -> None:
        while self._shape_row.count():
            item = self._shape_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # deleteLater only acts in the event loop; hide it now
                item.widget().deleteLater()
        self._shape_spins = []
        if ndim == 0:
            self._shape_row.addWidget(QLabel("() scalar"))
            return
        names = [f"axis {i}" for i in range(ndim - 2)] + (["rows", "columns"] if ndim >= 2 else ["length"])
        for axis in range(ndim):
            if axis:
                self._shape_row.addWidget(QLabel("×"))
            spin = QSpinBox()
            spin.setRange(1, MAX_SIDE)
            spin.setKeyboardTracking(False)  # one resize per Enter, not one per digit typed
            spin.setToolTip(f"{names[axis]} (axis {axis}): growing pads with zeros, shrinking crops")
            spin.setAccelerated(True)
            spin.setMaximumWidth(84)
            spin.valueChanged.connect(self._on_shape_spin)
            self._shape_row.addWidget(spin)
            self._shape_spins.append(spin)

    def _rebuild_slice_spins(self, lead_axes: int) -> None:
        while self._slice_row.count():
            item = self._slice_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self._slice_spins = []
        if not lead_axes:
            return
        self._slice_row.addWidget(QLabel("Slice  "))
        self._slice_name = QLabel(f"{self._name}[")
        self._slice_row.addWidget(self._slice_name)
        for axis in range(lead_axes):
            spin = QSpinBox()
            spin.setWrapping(True)
            spin.setToolTip(f"Index along axis {axis}: the table shows one 2-D slice at a time")
            spin.valueChanged.connect(self._on_slice_spin)
            self._slice_row.addWidget(spin)
            self._slice_row.addWidget(QLabel(","))
            self._slice_spins.append(spin)
        self._slice_row.addWidget(QLabel(":, :]"))
        self._slice_count = QLabel()
        self._slice_count.setStyleSheet("color: #555;")
        self._slice_row.addSpacing(8)
        self._slice_row.addWidget(self._slice_count)
        self._slice_row.addStretch(1)

    def _on_shape_spin(self, _value: int) -> None:
        self.set_shape(tuple(s.value() for s in self._shape_spins))

    def _on_ndim_spin(self, ndim: int) -> None:
        a = self._array
        if ndim > a.ndim:
            shape = (1,) * (ndim - a.ndim) + a.shape
        else:
            shape = a.shape[a.ndim - ndim:]
        self.set_shape(shape)

    def _on_slice_spin(self, _value: int) -> None:
        self.set_slice(tuple(s.value() for s in self._slice_spins))
