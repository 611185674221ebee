"""Tensor files dropped on the editor: which drags it accepts, and the load it asks for."""

from __future__ import annotations

from opscope.compute.io import LOADABLE_EXTENSIONS

__all__ = ["FileDropTarget", "dropped_tensor_file"]


def dropped_tensor_file(mime) -> str | None:
    """The local tensor file a drag carries (any loadable kind: .npy, .npz, .safetensors, a sharded
    ``*.index.json``, .csv, .tsv, PyTorch .pt/.pth/.bin), or None.

    Only the first URL counts: an input takes one tensor. Files of other types are not accepted at
    all, so the cursor already says "no" before the drop.
    """
    if mime is None or not mime.hasUrls():
        return None
    urls = [u for u in mime.urls() if u.isLocalFile()]
    if not urls:
        return None
    path = urls[0].toLocalFile()
    return path if path.lower().endswith(LOADABLE_EXTENSIONS) else None


class FileDropTarget:
    """Mixin for :class:`~gui.editor.MatrixEditor`: a dropped tensor file emits ``load_requested``
    with its path; the window does the reading. The host calls ``setAcceptDrops(True)``."""

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if dropped_tensor_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = dropped_tensor_file(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_requested.emit(path)
