"""The documented benchmark commands start as scripts (``python benchmarks/<name>.py``).

``benchmarks/http.py`` shares its name with the stdlib package; a script run from that
directory must not import it in place of ``http.client``.  Only the quickest benchmark is
run to the end (no figure is checked: tests stay deterministic, benchmarks measure); the
others must at least parse their options.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=BENCHMARKS.parent)


def test_verify_benchmark_runs_and_ends_with_a_ratio() -> None:
    done = _run(str(BENCHMARKS / "verify.py"), "--quick", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio=\d+\.\d+", lines[-1])
    assert any(line.startswith("openssl_ed25519_verify_us: ") for line in lines)


@pytest.mark.parametrize("name", ["verify.py", "store.py", "sasl.py", "http.py"])
def test_benchmark_scripts_start(name: str) -> None:
    done = _run(str(BENCHMARKS / name), "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
