"""`finsearch check`: every byte of every kept generation against its manifest's checksums."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finsearch import storage


@dataclass(frozen=True)
class GenerationCheck:
    generation: storage.GenerationInfo
    damage: tuple[storage.Damage, ...]  # empty: every file is whole
    problem: str | None = None  # the generation cannot be read by this finsearch at all


def check_index(root: Path) -> list[GenerationCheck]:
    """Each kept generation (newest first) and what is wrong with it; raises IndexMissing if
    there is no index. Reads every file: minutes on a large index, so a weekly job."""
    storage.current_build(root)  # no index: say so
    checks = []
    for info in storage.list_generations(root):
        build = root / storage.BUILDS / info.name
        problem = storage.manifest_problem(storage.read_manifest(build))
        _, damage = storage.verified_files(build)
        checks.append(GenerationCheck(info, tuple(damage), problem))
    return checks
