"""Benchmark: wall time of the embedded `pytest checks/`, against its floor.

The floor is what no run can avoid: starting A, B and nginx once and restarting A twice
(Q2 and Q4), each time waiting only until the process accepts connections.

    .venv/bin/python bench/bench_checks.py [--runs 5] [--json bench/results.json]

Everything runs on loopback, in a copy of the embedded lab (the repository's report/ is
not touched).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcheck.config import load_lab  # noqa: E402
from labcheck.local import LocalLab  # noqa: E402


def embedded_copy(folder: Path) -> Path:
    shutil.copy(ROOT / "lab.yaml", folder / "lab.yaml")
    shutil.copytree(ROOT / "lab", folder / "lab")
    return folder / "lab.yaml"


def checks_wall_time(lab_yaml: Path) -> float:
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "checks"), "--lab", str(lab_yaml), "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"pytest checks/ a échoué :\n{result.stdout[-2000:]}")
    return elapsed


def floor(lab_yaml: Path) -> float:
    lab = load_lab(lab_yaml)
    began = time.perf_counter()
    with LocalLab(lab) as running:
        for _ in range(2):
            running.stop("A")
            running.start("A")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labcheck-bench-") as tmp:
        lab_yaml = embedded_copy(Path(tmp))
        checks = [checks_wall_time(lab_yaml) for _ in range(args.runs)]
        floors = [floor(lab_yaml) for _ in range(args.runs)]
    figures = {
        "runs": args.runs,
        "checks_wall_s": [round(t, 3) for t in checks],
        "checks_median_s": round(statistics.median(checks), 3),
        "floor_median_s": round(statistics.median(floors), 3),
    }
    figures["ratio_to_floor"] = round(figures["checks_median_s"] / figures["floor_median_s"], 2)
    figures["target_checks_median_s"] = 3.0
    print(f"{'mesure':38} {'valeur':>10}")
    label = f"pytest checks/ (médiane de {args.runs})"
    print(f"{label:38} {figures['checks_median_s']:>9.2f}s")
    print(f"{'plancher : démarrer A, B, nginx + 2×A':38} {figures['floor_median_s']:>9.2f}s")
    print(f"{'rapport au plancher':38} {figures['ratio_to_floor']:>10.2f}")
    print(f"{'cible (médiane)':38} {'< 3.00s':>10}")
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Chiffres écrits dans {args.json}")


if __name__ == "__main__":
    main()
