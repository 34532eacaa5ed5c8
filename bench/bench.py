"""Benchmark: how fast labcheck is, and how nginx holds under load, on this machine.

    .venv/bin/python bench/bench.py [--runs 5] [--requests 2000] [--clients 8]
                                    [--submissions 20] [--jobs 2] [--json bench/results.json]

Prints a table and writes the figures to a JSON file:

- the embedded `pytest checks/` (median of --runs) and its floor, measured in the same run:
  starting A, B and nginx once and restarting A twice, waiting only until each is ready;
- failover under load: --requests requests from --clients concurrent clients through
  nginx on the embedded lab, Flask A stopped in the middle and started again: failed
  requests, and latency p50/p99 before, during and after;
- grading: --submissions submissions made from the test corpus, `labcheck grade --jobs`;
- the peak memory of the harness (`pytest checks/`, resident set size).

Targets it reports against: ratio to the floor <= 1.5, 0 failed requests, <= 1.5 s per
graded submission. Everything runs on loopback; the corpus's team addresses are never
contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labcheck.config import load_lab  # noqa: E402
from labcheck.local import LocalLab  # noqa: E402
from labcheck.polling import poll  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
LABCHECK = [sys.executable, "-c", "from labcheck.cli import main; main()"]
# What the teams of the benchmark class changed in the handout lab (file, old, new).
VARIANTS = [
    (),
    ("app_AAB.py", "port=3001", "port=3000"),
    ("nginx.conf", "server 172.20.10.2:3000;", "server 172.20.10.2:3001;"),
    ("nginx.conf", "server 172.20.10.2:3000;", "ip_hash; server 172.20.10.2:3000;"),
    ("nginx.conf", "listen 8181 default_server;", "listen 8080;"),
]
_PEAK = (
    "import resource, sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def embedded_copy(folder: Path) -> Path:
    shutil.copy(ROOT / "lab.yaml", folder / "lab.yaml")
    shutil.copytree(ROOT / "lab", folder / "lab")
    return folder / "lab.yaml"


def checks_command(lab_yaml: Path) -> list[str]:
    return [str(ROOT / "checks"), "--lab", str(lab_yaml), "-q", "-p", "no:cacheprovider"]


def checks_wall_time(lab_yaml: Path) -> tuple[float, float]:
    """The run's wall time, and pytest's own session time (without Python's start)."""
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *checks_command(lab_yaml)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"pytest checks/ a échoué :\n{result.stdout[-2000:]}")
    session = re.search(r"passed in ([\d.]+)s", result.stdout)
    return elapsed, float(session.group(1)) if session else elapsed


def floor(lab_yaml: Path) -> float:
    lab = load_lab(lab_yaml)
    began = time.perf_counter()
    with LocalLab(lab) as running:
        for _ in range(2):
            running.stop("A")
            running.start("A")
    return time.perf_counter() - began


def peak_memory_kb(lab_yaml: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _PEAK, *checks_command(lab_yaml)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if line.startswith("PEAK_KB"))
    return int(line.split()[1])


def failover_under_load(lab_yaml: Path, total: int, clients: int) -> dict[str, Any]:
    """``total`` requests from ``clients`` threads; A stopped at 1/3, started at 2/3."""
    lab = load_lab(lab_yaml)
    seen: list[tuple[float, bool, float]] = []  # (when, ok, latency ms)
    lock = threading.Lock()
    moments: dict[str, float] = {}
    with LocalLab(lab, free_ports=True) as running:
        url = running.endpoint("nginx").url

        def client() -> None:
            with requests.Session() as session:
                while True:
                    with lock:
                        if len(seen) >= total:
                            return
                    began = time.perf_counter()
                    try:
                        ok = session.get(url, timeout=(2, 5)).status_code == 200
                    except requests.RequestException:
                        ok = False
                    done = time.perf_counter()
                    with lock:
                        seen.append((done, ok, (done - began) * 1000))

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        _until(lambda: len(seen), total // 3)
        moments["stop"] = time.perf_counter()
        running.stop("A")
        moments["stopped"] = time.perf_counter()
        _until(lambda: len(seen), 2 * total // 3)
        running.start("A")
        moments["started"] = time.perf_counter()
        for thread in threads:
            thread.join()
    phases: dict[str, list[tuple[float, bool, float]]] = {"avant": [], "pendant": [], "après": []}
    for item in seen:
        when = item[0]
        if when < moments["stop"]:
            phase = "avant"
        else:
            phase = "après" if when > moments["started"] else "pendant"
        phases[phase].append(item)
    out: dict[str, Any] = {"requests": len(seen), "clients": clients}
    out["failed"] = sum(not ok for _, ok, _ in seen)
    for phase, items in phases.items():
        latencies = sorted(ms for _, _, ms in items)
        out[phase] = {
            "requests": len(items),
            "failed": sum(not ok for _, ok, _ in items),
            "p50_ms": round(_percentile(latencies, 50), 2),
            "p99_ms": round(_percentile(latencies, 99), 2),
        }
    return out


def _until(count: Any, wanted: int) -> None:
    """Poll (with a deadline) until the clients have sent ``wanted`` requests."""
    if poll(count, lambda n: n >= wanted, timeout=120, interval=0.005) < wanted:
        sys.exit(f"charge : {wanted} requêtes non atteintes en 120 s")


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * p / 100))]


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


def grading(tmp: Path, count: int, jobs: int) -> dict[str, Any]:
    folders = make_class(tmp / "classe", count)
    command = [
        *LABCHECK, "grade", *map(str, folders), "--out", str(tmp / "correction"),
        "--jobs", str(jobs),
    ]  # fmt: skip
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"labcheck grade a échoué :\n{result.stderr[-2000:]}")
    rows = (tmp / "correction" / "notes.csv").read_text(encoding="utf-8-sig").splitlines()
    return {
        "submissions": count,
        "graded": len(rows) - 1,
        "jobs": jobs,
        "seconds": round(elapsed, 2),
        "per_submission_s": round(elapsed / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    figures: dict[str, Any] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="labcheck-bench-") as tmp:
        lab_yaml = embedded_copy(Path(tmp))
        runs = [checks_wall_time(lab_yaml) for _ in range(args.runs)]
        floors = [floor(lab_yaml) for _ in range(args.runs)]
        wall = statistics.median(t for t, _ in runs)
        session = statistics.median(s for _, s in runs)
        floor_s = statistics.median(floors)
        figures["checks"] = {
            "runs": args.runs,
            "wall_s": [round(t, 3) for t, _ in runs],
            "median_s": round(wall, 3),
            "session_median_s": round(session, 3),
            "floor_median_s": round(floor_s, 3),
            "ratio_to_floor": round(wall / floor_s, 2),
            "session_ratio_to_floor": round(session / floor_s, 2),
        }
        figures["peak_memory_mb"] = round(peak_memory_kb(lab_yaml) / 1024, 1)
        figures["failover"] = failover_under_load(lab_yaml, args.requests, args.clients)
        figures["grading"] = grading(Path(tmp), args.submissions, args.jobs)
    figures["targets"] = {"ratio_to_floor": 1.5, "failed_requests": 0, "per_submission_s": 1.5}
    _print(figures)
    args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"Chiffres écrits dans {args.json}")


def _print(f: dict[str, Any]) -> None:
    c, load, g = f["checks"], f["failover"], f["grading"]

    def row(label: str, value: str, target: str = "") -> None:
        print(f"{label:54} {value:>12} {target:>8}")

    row("mesure", "valeur", "cible")
    row(f"pytest checks/ (médiane de {c['runs']})", f"{c['median_s']:.2f} s")
    row("plancher : démarrer A, B, nginx + 2×A", f"{c['floor_median_s']:.2f} s")
    row("rapport au plancher", f"{c['ratio_to_floor']:.2f}", "<= 1.5")
    row(
        "  dont session pytest seule (sans le démarrage de Python)",
        f"{c['session_median_s']:.2f} s",
    )
    row("  rapport de la session au plancher", f"{c['session_ratio_to_floor']:.2f}")
    row("mémoire maximale du harnais (RSS)", f"{f['peak_memory_mb']:.1f} Mo")
    row(f"charge : {load['requests']} requêtes, {load['clients']} clients", "")
    row("  requêtes échouées (A arrêté au milieu)", str(load["failed"]), "0")
    for phase, when in (("avant", "avant l'arrêt"), ("pendant", "A arrêté"),
                        ("après", "après son retour")):  # fmt: skip
        p = load[phase]
        row(
            f"  {when} : {p['requests']} requêtes, p50 / p99",
            f"{p['p50_ms']:.1f}/{p['p99_ms']:.1f} ms",
        )
    row(f"correction : {g['submissions']} soumissions, --jobs {g['jobs']}", f"{g['seconds']:.1f} s")

    row("  par soumission", f"{g['per_submission_s']:.2f} s", "<= 1.5 s")


if __name__ == "__main__":
    main()
