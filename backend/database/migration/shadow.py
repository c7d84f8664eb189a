"""Shadow file system for dev mode: mirror a real model tree with zero-byte stand-ins and real previews.

`python -m backend.database.migration.shadow SOURCE_ROOT [--dest debug_models]`, or
`python -m backend.database.migration.shadow --synthetic N [--previews PERCENT] [--dest debug_models]`.
Each model file becomes `shadow_<name>.safetensors` (zero bytes) in the same relative folder; its side-car
previews (`<name>.png`, `<name>.preview.jpg`, ...) are copied beside it as `shadow_<name>...`, so the whole
register → hash → migrate flow runs on a laptop without the hundreds of GB behind it. --synthetic makes a
library of N such files from nothing (folders of about a thousand), to try ModelVault at scale.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from backend.database.migration.synthetic_tree import build_synthetic_tree
from backend.util.config import PROJECT_ROOT
from backend.util.model_files import is_model_file, previews_of


@dataclass
class ShadowReport:
    models: int = 0
    previews: int = 0
    skipped: list[str] = field(default_factory=list)


def shadow_name(model: Path, taken: set[str]) -> str:
    """shadow_<stem>.safetensors; the full file name is kept when two models in one folder share a stem."""
    name = f"shadow_{model.stem}.safetensors"
    return name if name not in taken else f"shadow_{model.name}.safetensors"


def build_shadow_tree(source: Path, dest: Path) -> ShadowReport:
    """Create (or refresh) the shadow tree of source under dest; real files under dest are never overwritten."""
    source, dest = source.resolve(), dest.resolve()
    if dest == source or dest.is_relative_to(source):
        raise ValueError("the shadow tree must not lie inside the source tree")
    report = ShadowReport()
    for folder in sorted([source, *(p for p in source.rglob("*") if p.is_dir() and not p.is_symlink())]):
        entries = sorted(p for p in folder.iterdir() if p.is_file())
        # .safetensors first: it keeps the plain shadow name when another format shares its stem.
        models = sorted((p for p in entries if is_model_file(p.name)),
                        key=lambda p: (p.suffix.lower() != ".safetensors", p.name))
        if not models:
            continue
        target = dest / folder.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for model in models:
            name = shadow_name(model, taken)
            taken.add(name)
            shadow = target / name
            if shadow.exists() and shadow.stat().st_size != 0:
                report.skipped.append(str(shadow))
                continue
            shadow.touch()
            report.models += 1
            shadow_stem = name[: -len(".safetensors")]
            for preview in previews_of(model, entries):
                shutil.copyfile(preview, target / (shadow_stem + preview.name[len(model.stem):]))
                report.previews += 1
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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


if __name__ == "__main__":
    sys.exit(main())
