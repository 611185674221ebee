"""The Help menu's dialogs: every keyboard shortcut of the window, and About OpScope.

The shortcut list is read from the window's own actions each time it opens (menu entries, actions
added to the window, the matrix editor's table keys), so it cannot drift from what the keys do.
The About text lists the versions a bug report needs and can be copied in one click.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, qVersion
from PySide6.QtGui import QAction, QFont, QFontDatabase, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

#: Group of the keys the matrix editor's table handles itself (they act on the table with focus).
EDITOR_GROUP = "Matrix editor (with the table focused)"

#: Group of window-wide actions that are in no menu.
OTHER_GROUP = "Other"


@dataclass(frozen=True)
class ShortcutRow:
    """One line of the shortcut list: ``group`` (a menu's title), what the keys do, and the keys."""

    group: str
    text: str
    keys: str


def _plain(text: str) -> str:
    """A menu text without its mnemonic ampersand or trailing ellipsis: "&Open…" → "Open"."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…").strip()


def action_label(action: QAction) -> str:
    """What an action is called in the shortcut list: its ``shortcut_label`` property when set (for
    actions whose text changes, like "Undo Paste"), else its text without mnemonic and ellipsis."""
    label = action.property("shortcut_label")
    return str(label) if label else _plain(action.text())


def key_text(action: QAction) -> str:
    """The action's shortcuts as the platform writes them, ``"Ctrl+Shift+Z, Ctrl+Y"``."""
    return ", ".join(k.toString(QKeySequence.NativeText) for k in action.shortcuts() if not k.isEmpty())


def _menu_rows(menu: QMenu, group: str, prefix: str, seen: set, rows: list) -> None:
    for a in menu.actions():
        if a.isSeparator():
            continue
        sub = a.menu()
        if sub is not None:
            _menu_rows(sub, group, f"{prefix}{_plain(a.text())} › ", seen, rows)
            continue
        seen.add(a)
        keys = key_text(a)
        if keys and a.isVisible():
            rows.append(ShortcutRow(group, prefix + action_label(a), keys))


def shortcut_rows(window) -> list[ShortcutRow]:
    """Every keyboard shortcut of ``window``, in menu-bar order, then the matrix editor's keys.

    Read from the live actions: the menus (submenus as "Export › PNG"), window-wide actions outside
    any menu, and the widget-scoped actions of the current input's matrix editor.
    """
    from opscope.gui.editor import MatrixEditor

    rows: list[ShortcutRow] = []
    seen: set = set()
    for top in window.menuBar().actions():
        if top.menu() is not None and top.isVisible():
            _menu_rows(top.menu(), _plain(top.text()), "", seen, rows)
    for a in window.actions():
        if a not in seen and key_text(a) and a.isVisible():
            seen.add(a)
            rows.append(ShortcutRow(OTHER_GROUP, action_label(a), key_text(a)))
    panel = window.inputs_panel
    name = panel.current_name()
    editor = panel.editor(name) if name is not None else None
    if isinstance(editor, MatrixEditor):
        for a in editor.actions() + editor.findChildren(QAction):
            row = ShortcutRow(EDITOR_GROUP, action_label(a), key_text(a))
            if row.keys and a.shortcutContext() == Qt.WidgetShortcut and row not in rows:
                rows.append(row)
    return rows


class ShortcutsDialog(QDialog):
    """Help › Keyboard Shortcuts: a filterable list of :func:`shortcut_rows`, grouped by menu."""

    def __init__(self, window, parent=None):
        super().__init__(parent if parent is not None else window)
        self.window = window
        self.setWindowTitle("Keyboard Shortcuts — OpScope")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by action or key…")
        self.filter.setClearButtonEnabled(True)
        self.filter.setAccessibleName("Filter shortcuts")
        for button in self.filter.findChildren(QToolButton):  # Qt's clear button: an icon without a name
            button.setAccessibleName("Clear the filter")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeWidget.NoSelection)
        self.tree.setFocusPolicy(Qt.NoFocus)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.tree, 1)
        lay.addWidget(buttons)
        self.filter.textChanged.connect(self._apply_filter)
        self.resize(620, 680)

    def refresh(self) -> None:
        """Rebuild the list from the window's actions as they are now."""
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        keys_font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        keys_font.setPointSizeF(self.tree.font().pointSizeF())
        groups: dict[str, QTreeWidgetItem] = {}
        for row in shortcut_rows(self.window):
            head = groups.get(row.group)
            if head is None:
                head = QTreeWidgetItem([row.group])
                head.setFont(0, bold)
                head.setFlags(Qt.ItemIsEnabled)
                self.tree.addTopLevelItem(head)
                head.setFirstColumnSpanned(True)
                groups[row.group] = head
            item = QTreeWidgetItem([row.text, row.keys])
            item.setFont(1, keys_font)
            head.addChild(item)
        self.tree.expandAll()
        self._apply_filter(self.filter.text())

    def rows(self) -> list[tuple[str, str, str]]:
        """(group, action, keys) of every row shown (for tests)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            for j in range(head.childCount()):
                it = head.child(j)
                if not it.isHidden():
                    out.append((head.text(0), it.text(0), it.text(1)))
        return out

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            shown = 0
            for j in range(head.childCount()):
                it = head.child(j)
                hit = not needle or needle in it.text(0).lower() or needle in it.text(1).lower()
                it.setHidden(not hit)
                shown += hit
            head.setHidden(shown == 0)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.refresh()  # the actions of now: an editor or a menu may have changed since last time
        super().showEvent(event)


# ----------------------------------------------------------------------------------------------
# About


def _cupy_version() -> str:
    """CuPy's version from its installed package metadata, or "not installed".

    The GUI never imports CuPy (ARCHITECTURE §1, §6: importing it can take seconds); the metadata
    says which wheel (cupy-cuda12x, ...) is there without loading it.
    """
    from importlib import metadata

    try:
        names = metadata.packages_distributions().get("cupy") or []
        for name in names:
            return f"{metadata.version(name)} ({name})"
    except Exception:  # noqa: BLE001 - a broken environment must not break the About box
        pass
    return "not installed"


def about_info() -> list[tuple[str, str]]:
    """(what, version) pairs for the About box and a bug report."""
    import numpy as np
    import opscope
    import pyqtgraph as pg
    import PySide6
    from opscope import compute

    try:
        backend = str(compute.backend_info())
    except Exception as exc:  # noqa: BLE001 - the About box must open even when the backend is broken
        backend = f"unavailable ({exc})"
    app = QGuiApplication.instance()
    qt_platform = app.platformName() if app is not None else "?"
    return [
        ("OpScope", opscope.__version__),
        ("Backend", backend),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("numpy", np.__version__),
        ("Qt", f"{qVersion()} (platform plugin: {qt_platform})"),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", pg.__version__),
        ("CuPy", _cupy_version()),
        ("System", platform.platform()),
    ]


def about_text(info: list[tuple[str, str]] | None = None) -> str:
    """The About box's facts as plain text, one ``what: version`` a line (what Copy copies)."""
    info = about_info() if info is None else info
    width = max(len(k) for k, _v in info)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in info) + "\n"


class AboutDialog(QDialog):
    """Help › About OpScope: what it is, its version, and the versions of what it runs on, with a
    Copy button for bug reports."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About OpScope")
        info = about_info()
        self.text = about_text(info)
        version = dict(info)["OpScope"]

        icon = QLabel()
        app_icon = QApplication.windowIcon()
        if not app_icon.isNull():
            icon.setPixmap(app_icon.pixmap(64, 64))
        icon.setAlignment(Qt.AlignTop)
        title = QLabel(f"OpScope {version}")
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.7)
        f.setBold(True)
        title.setFont(f)
        tagline = QLabel("See inside the tensor operations of deep learning, step by step.")
        tagline.setWordWrap(True)
        head_text = QVBoxLayout()
        head_text.setSpacing(2)
        head_text.addWidget(title)
        head_text.addWidget(tagline)
        head = QHBoxLayout()
        head.setSpacing(16)
        head.addWidget(icon)
        head.addLayout(head_text, 1)

        rows = "".join(
            f"<tr><td style='padding:2px 14px 2px 0; color:#555;'>{_html(k)}</td>"
            f"<td style='padding:2px 0;'>{_html(v)}</td></tr>"
            for k, v in info[1:]
        )
        self.details = QLabel(f"<table>{rows}</table>")
        self.details.setTextFormat(Qt.RichText)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Versions")

        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy these versions as text, for a bug report")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.copied = QLabel("")
        self.copied.setStyleSheet("color: #2e7d32;")
        # A child timer, not a free singleShot: it dies with the dialog, so it never touches a deleted label.
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(3000)
        self._copied_timer.timeout.connect(lambda: self.copied.setText(""))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        foot = QHBoxLayout()
        foot.addWidget(self.copy_button)
        foot.addWidget(self.copied, 1)
        foot.addWidget(buttons)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 18, 20, 14)
        lay.setSpacing(14)
        lay.addLayout(head)
        lay.addWidget(self.details)
        lay.addStretch(1)
        lay.addLayout(foot)
        self.setMinimumWidth(560)
        buttons.button(QDialogButtonBox.Close).setDefault(True)

    def copy_to_clipboard(self) -> None:
        """Put :attr:`text` on the clipboard and say so for a moment."""
        QGuiApplication.clipboard().setText(self.text)
        self.copied.setText("Copied to the clipboard.")
        self._copied_timer.start()


def _html(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["AboutDialog", "ShortcutRow", "ShortcutsDialog", "about_info", "about_text", "action_label",
           "key_text", "shortcut_rows"]
