"""Fixtures shared by every test: a model root and a data folder on real disk, and a config over them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.database.embedded_files import relocated_cluster
from backend.util.config import Config, load_config


@pytest.fixture
def model_root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    (path / "images" / "pending").mkdir(parents=True)
    yield path.resolve()
    # As root, a stack's embedded cluster under pytest's private tmp folder is kept in the system home.
    if os.geteuid() == 0:
        shutil.rmtree(relocated_cluster(path.resolve() / "postgres"), ignore_errors=True)


def make_config(model_roots: list[Path], data_dir: Path, **env: str) -> Config:
    """A config as the environment would give it, with services on free ports."""
    base = {
        "MODELVAULT_MODEL_ROOTS": os.pathsep.join(str(r) for r in model_roots),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_HASHER_LISTEN": "127.0.0.1:0",
        "MODELVAULT_IMAGES_LISTEN": "127.0.0.1:0",
        "MODELVAULT_HASHER_WORKERS": "2",
        "MODELVAULT_IMAGES_WORKERS": "2",
        # Tests drive scans and hashing themselves; the one test of the automatic scan turns it on.
        "MODELVAULT_AUTO_SCAN": "0",
        # Test files are written a moment before they are scanned: hashed at once unless a test of the
        # settling time sets one.
        "MODELVAULT_SETTLE_S": "0",
        # Test files are page-cached or sparse, whatever this machine's disk claims to be (a VM's virtual
        # disk often says "rotational"); the tests of the one-reader rule set it themselves.
        "MODELVAULT_ROTATIONAL_DEVICES": "none",
    }
    base.update(env)
    return load_config(base)


@pytest.fixture
def config(model_root: Path, data_dir: Path) -> Config:
    return make_config([model_root], data_dir)
