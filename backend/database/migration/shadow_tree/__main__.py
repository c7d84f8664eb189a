"""`python -m backend.database.migration.shadow_tree`: make the dev-mode shadow tree (see cli.py)."""

import sys

from backend.database.migration.shadow_tree.cli import main

sys.exit(main())
