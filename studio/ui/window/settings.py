"""What the studio remembers between runs (QSettings) and the dialog that edits it.

Model folders reach the model registry through ``$STUDIO_MODELS``, the same switch the
command line uses, so the GUI and ``studio run`` always find the same files.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget)

from studio.body.registry import ENV_VAR

MAX_RECENT = 8


def available_devices() -> list[str]:
    """Devices this machine can run models on."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


class StudioSettings:
    """Typed access to the studio's QSettings."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings("Human Mesh Studio", "studio")
        self._env_base = os.environ.get(ENV_VAR, "")
        self.apply_model_folders()

    def _get_list(self, key: str) -> list[str]:
        value = self.store.value(key, [])
        if isinstance(value, str):  # QSettings gives a bare string for one-item lists
            return [value]
        return [str(v) for v in value or []]

    @property
    def model(self) -> str | None:
        value = self.store.value("model/name")
        return str(value) if value else None

    @model.setter
    def model(self, name: str | None) -> None:
        """Remember ``name``; None forgets it (the default is used)."""
        if name:
            self.store.setValue("model/name", name)
        else:
            self.store.remove("model/name")

    @property
    def device(self) -> str:
        value = str(self.store.value("model/device", "cpu"))
        return value if value in available_devices() else "cpu"

    @device.setter
    def device(self, name: str) -> None:
        self.store.setValue("model/device", name)

    @property
    def model_folders(self) -> list[str]:
        return self._get_list("model/folders")

    @model_folders.setter
    def model_folders(self, folders: list[str]) -> None:
        self.store.setValue("model/folders", list(folders))
        self.apply_model_folders()

    def apply_model_folders(self) -> None:
        """Put the chosen folders in front of ``$STUDIO_MODELS`` as the process started with."""
        parts = [*self.model_folders, *[p for p in self._env_base.split(os.pathsep) if p]]
        if parts:
            os.environ[ENV_VAR] = os.pathsep.join(parts)
        else:
            os.environ.pop(ENV_VAR, None)

    @property
    def recent_files(self) -> list[str]:
        return self._get_list("files/recent")

    def add_recent(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry, *[p for p in self.recent_files if p != entry]][:MAX_RECENT]
        self.store.setValue("files/recent", recent)

    def remove_recent(self, path: str | Path) -> None:
        """Forget ``path`` (as listed, or a path that resolves to it)."""
        entries = {str(path), str(Path(path).resolve())}
        self.store.setValue("files/recent", [p for p in self.recent_files if p not in entries])

    def clear_recent(self) -> None:
        self.store.setValue("files/recent", [])

    @property
    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.store.setValue("window/geometry", value)

    def sync(self) -> None:
        self.store.sync()


class SettingsDialog(QDialog):
    """Model folders and device; applied only on OK."""

    def __init__(self, settings: StudioSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.folders = QListWidget()
        self.folders.addItems(settings.model_folders)
        add = QPushButton("Add folder\N{HORIZONTAL ELLIPSIS}")
        add.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: [self.folders.takeItem(self.folders.row(i))
                                        for i in self.folders.selectedItems()])
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add)
        buttons_row.addWidget(remove)
        buttons_row.addStretch(1)
        folder_box = QVBoxLayout()
        folder_box.addWidget(self.folders)
        folder_box.addLayout(buttons_row)
        self.device = QComboBox()
        self.device.addItems(available_devices())
        self.device.setCurrentText(settings.device)
        form = QFormLayout()
        form.addRow("Model folders\n(searched before\nthe built-in ones)", folder_box)
        form.addRow("Device", self.device)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(box)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder")
        if folder:
            self.folders.addItem(folder)

    def accept(self) -> None:
        self.settings.model_folders = [self.folders.item(i).text()
                                       for i in range(self.folders.count())]
        self.settings.device = self.device.currentText()
        super().accept()
