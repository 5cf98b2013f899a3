"""``causal-priors data check [root=PATH]``: verify the forecasting data files against the committed checksums.

The table ``configs/checksums/shared_data.sha256`` lists every file of the data folder with its SHA-256, in
``sha256sum`` format (so ``cd <data root> && sha256sum -c <table>`` checks the same). Nothing is downloaded:
the data come from ``../shared/data`` or ``$CAUSAL_PRIORS_DATA`` (README, "Data").
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from causal_priors.config import load_config, to_typed
from causal_priors.errors import ConfigError, DataError
from configs import CONFIG_ROOT

CHECKSUMS = CONFIG_ROOT / "checksums" / "shared_data.sha256"
USAGE = "usage: causal-priors data check [root=PATH]"


@dataclass
class DataCheckConfig:
    """``causal-priors data check``."""

    root: str = ""
    """Data folder to check ("" = ``$CAUSAL_PRIORS_DATA`` or ``../shared/data``, as the forecasting loaders)."""
    table: str = ""
    """Checksum table in ``sha256sum`` format ("" = the committed ``configs/checksums/shared_data.sha256``)."""


def read_table(path: Path) -> dict[str, str]:
    """``{relative path: sha256 hex}`` from a ``sha256sum``-format file."""
    if not path.is_file():
        raise ConfigError(f"table={path}: checksum table not found")
    table: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise ConfigError(f"{path}:{number}: expected '<sha256 hex>  <relative path>', got {line!r}")
        table[name.strip()] = digest.lower()
    return table


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_files(root: Path, table: dict[str, str]) -> list[str]:
    """One line per problem (missing or differing file) under ``root``; empty when every file matches."""
    problems = []
    for name, expected in sorted(table.items()):
        path = root / name
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif sha256(path) != expected:
            problems.append(f"checksum differs: {path}")
    return problems


def _root(text: str) -> Path:
    if text:
        root = Path(text)
        if not root.is_dir():
            raise ConfigError(f"root={text}: not a folder")
        return root
    from forecasting.data import default_data_root

    return default_data_root()


def data_main(argv: Sequence[str]) -> int:
    """Entry point of ``causal-priors data``; returns the exit code (0 all files match, 2 otherwise)."""
    words = list(argv)
    if not words or words[0] != "check":
        raise ConfigError(f"{USAGE} (got {' '.join(words) or 'nothing'})")
    cfg: DataCheckConfig = to_typed(load_config(DataCheckConfig, words[1:]))
    root = _root(cfg.root)
    table_path = Path(cfg.table) if cfg.table else CHECKSUMS
    table = read_table(table_path)
    problems = check_files(root, table)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        raise DataError(
            f"{len(problems)} of {len(table)} data files under {root} are missing or differ from {table_path} "
            f"(first: {problems[0]})"
        )
    print(f"{len(table)} data files under {root} match {table_path}")
    return 0
