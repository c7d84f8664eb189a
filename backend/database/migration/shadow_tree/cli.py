"""Shadow file system for dev mode: mirror a real model tree with zero-byte stand-ins and real previews.

`python -m backend.database.migration.shadow_tree SOURCE_ROOT [--dest debug_models]`, or
`python -m backend.database.migration.shadow_tree --synthetic N [--previews PERCENT] [--dest debug_models]`.
Each model file becomes `shadow_<name>.safetensors` (zero bytes) in the same relative folder; its side-car
previews (`<name>.png`, `<name>.preview.jpg`, ...) are copied beside it as `shadow_<name>...`, so the whole
register → hash → migrate flow runs on a laptop without the hundreds of GB behind it. --synthetic makes a
library of N such files from nothing (folders of about a thousand), to try ModelVault at scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backend.database.migration.shadow_tree.mirror import build_shadow_tree
from backend.database.migration.shadow_tree.synthetic import build_synthetic_tree
from backend.util.config import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.database.migration.shadow_tree",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", help="the real model tree to mirror")
    parser.add_argument("--dest", type=Path, default=PROJECT_ROOT / "debug_models", help="default: debug_models/")
    parser.add_argument("--synthetic", type=int, metavar="N", help="make N synthetic shadow files instead")
    parser.add_argument("--previews", type=float, default=0.0, metavar="PERCENT",
                        help="with --synthetic: the share of files with a side-car preview (default 0)")
    args = parser.parse_args(argv)
    if args.synthetic is not None:
        if args.source is not None or args.synthetic < 0 or not 0 <= args.previews <= 100:
            parser.error("--synthetic takes no SOURCE, N >= 0 and --previews between 0 and 100")
        made = build_synthetic_tree(args.dest, args.synthetic, preview_percent=args.previews)
        print(f"{made.models} synthetic shadow models and {made.previews} previews in {made.folders} folders "
              f"under {args.dest}")
        return 0
    if args.source is None or not args.source.is_dir():
        parser.error(f"{args.source} is not a directory")
    try:
        report = build_shadow_tree(args.source, args.dest)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{report.models} shadow models and {report.previews} previews under {args.dest}")
    for path in report.skipped:
        print(f"skipped (a real, non-empty file is there): {path}", file=sys.stderr)
    return 0
