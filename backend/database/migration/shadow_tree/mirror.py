"""Mirror a real model tree as zero-byte `shadow_<name>.safetensors` stand-ins beside copies of their previews."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

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
        models = sorted((path for path in entries if is_model_file(path.name)),
                        key=lambda path: (path.suffix.lower() != ".safetensors", path.name))
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
