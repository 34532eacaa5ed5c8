"""Benchmark: `labcheck grade` on a class of 20 submissions, with --jobs 2.

The class is made from the test corpus (tests/corpus/handout, the hand-written report):
correct labs and labs with the mistakes teams make, each with a report. Target: under
30 s on the development machine (2 cores).

    .venv/bin/python bench/bench_grade.py [--submissions 20] [--jobs 2] [--json FILE]

Everything runs on loopback; the team addresses in the corpus are never contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
# What the teams of the class changed in the handout lab (file, old, new).
VARIANTS = [
    (),
    ("app_AAB.py", "port=3001", "port=3000"),
    ("nginx.conf", "server 172.20.10.2:3000;", "server 172.20.10.2:3001;"),
    ("nginx.conf", "server 172.20.10.2:3000;", "ip_hash; server 172.20.10.2:3000;"),
    ("nginx.conf", "listen 8181 default_server;", "listen 8080;"),
]


def make_class(root: Path, count: int) -> list[Path]:
    folders = []
    for n in range(count):
        folder = root / f"equipe{n + 1:02d}"
        shutil.copytree(CORPUS / "handout", folder)
        change = VARIANTS[n % len(VARIANTS)]
        if change:
            path = folder / change[0]
            path.write_text(path.read_text().replace(change[1], change[2]))
        (folder / "report").mkdir()
        shutil.copy(CORPUS / "rapport-main.md", folder / "report" / "rapport.md")
        folders.append(folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "grade-results.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labcheck-bench-") as tmp:
        folders = make_class(Path(tmp) / "classe", args.submissions)
        command = [
            sys.executable, "-c", "from labcheck.cli import main; main()", "grade",
            *map(str, folders), "--out", str(Path(tmp) / "correction"), "--jobs", str(args.jobs),
        ]  # fmt: skip
        began = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
        elapsed = time.perf_counter() - began
        if result.returncode != 0:
            sys.exit(f"labcheck grade a échoué :\n{result.stderr[-2000:]}")
        rows = (Path(tmp) / "correction" / "notes.csv").read_text(encoding="utf-8-sig")
        graded = len(rows.splitlines()) - 1
    figures = {
        "submissions": args.submissions,
        "graded": graded,
        "jobs": args.jobs,
        "cores": os.cpu_count(),
        "seconds": round(elapsed, 2),
        "per_submission": round(elapsed / args.submissions, 2),
        "target_seconds": 30,
    }
    print(f"{'mesure':40} {'valeur':>10}")
    print(f"{'soumissions corrigées':40} {graded:>10}")
    print(f"{f'durée totale (--jobs {args.jobs})':40} {elapsed:>9.2f}s")
    print(f"{'par soumission':40} {elapsed / args.submissions:>9.2f}s")
    print(f"{'cible':40} {'< 30.00s':>10}")
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Chiffres écrits dans {args.json}")


if __name__ == "__main__":
    main()
