"""The benchmark scripts, run as files, import the library from their own checkout."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LIBRARY_IMPORT = re.compile(r"^\s*(from|import) (agents|causal|causal_priors|envs|forecasting)\b", re.MULTILINE)


def test_every_script_that_imports_the_library_calls_use_this_checkout_first() -> None:
    scripts = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
    checked = 0
    for script in scripts:
        text = script.read_text()
        first_import = LIBRARY_IMPORT.search(text)
        if first_import is None:
            continue
        call = text.find("\nuse_this_checkout()\n")
        assert 0 <= call < first_import.start(), f"{script.name}: use_this_checkout() must precede {first_import[0]!r}"
        checked += 1
    assert checked >= 10


def test_a_decoy_library_on_the_path_loses_to_the_checkout(tmp_path: Path) -> None:
    decoy = tmp_path / "causal"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy copy was imported')\n")
    probe = tmp_path / "probe.py"
    probe.write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nsys.path.insert(0, {str(BENCHMARKS)!r})\n"
        "from _checkout import use_this_checkout\nroot = use_this_checkout()\n"
        "import causal\nprint(causal.__file__)\n"
    )
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert Path(out.stdout.strip()).is_relative_to(BENCHMARKS.parent / "causal")
