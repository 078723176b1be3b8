"""A playground-sized table through the default recipe: wall time and memory.

    python -m benchmarks.million [--rows 1000000] [--time-limit SECONDS] [--workdir DIR] [--keep]

Builds a synthetic playground-style table (benchmarks.parallel.make_table: 20 numbers with missing
values, 5 categories of 3 to 200 levels, a binary target scored by AUC; `--rows` training rows and a
fifth as many test rows) in Kaggle's layout, then runs `python -m pipelines.run` on it with the
default workers, sampling the command's process tree every two seconds: the peak of the tree's
summed resident memory (RSS, which counts pages the processes share more than once), the peak of the
tree's proportional set size (PSS, each shared page split between its processes), and the largest
single process. It prints them with the wall time, the CV and whether the submission is valid.
`--time-limit` passes the run's time budget. Run it alone on the machine.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from benchmarks.parallel import SYNTHETIC, make_table

REPO = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3


class TreeMemory(threading.Thread):
    """Samples a process and its descendants every `every` seconds; keeps the peaks."""

    def __init__(self, pid, every=2.0):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.rss = self.pss = self.largest = 0
        self.largest_name = ""
        self.done = threading.Event()

    def run(self):
        root = psutil.Process(self.pid)
        while not self.done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = pss = 0
            for process in tree:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
                if info.rss > self.largest:
                    self.largest = info.rss
                    self.largest_name = " ".join(process.cmdline()[1:4])[:80]
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self.done.wait(self.every)


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.million", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--time-limit", type=int, default=None)
    parser.add_argument("--workdir", help="where the table and the run go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--set", action="append", default=[], help="passed to pipelines.run")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="million-"))
    (workdir / "competitions").mkdir(parents=True, exist_ok=True)
    (workdir / "competitions" / "synthetic_table.py").write_text(SYNTHETIC)
    data = workdir / f"rows-{args.rows}"
    start = time.perf_counter()
    if not (data / "sample_submission.csv").exists():
        make_table(data, args.rows)
    print(f"# benchmarks.million: {args.rows:,} training rows, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
          f" (table written in {time.perf_counter() - start:.0f} s, "
          f"{sum(f.stat().st_size for f in data.iterdir()) / 1e6:.0f} MB of CSV)", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINES_COMPETITIONS": str(workdir / "competitions")}
    command = [sys.executable, "-m", "pipelines.run", "synthetic_table", "--data-dir", str(data),
               "--submission", str(workdir / "submission.csv"),
               *(["--time-limit", str(args.time_limit)] if args.time_limit else []),
               *[part for value in args.set for part in ("--set", value)]]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    memory = TreeMemory(process.pid)
    memory.start()
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip())
        print("  " + line.rstrip(), flush=True)
    process.wait()
    wall = time.perf_counter() - start
    memory.done.set()
    memory.join()
    cv = next((line for line in reversed(lines) if line.startswith("CV roc_auc:")), "no CV line")
    valid = False
    if process.returncode == 0:
        sample = pd.read_csv(data / "sample_submission.csv")
        submission = pd.read_csv(workdir / "submission.csv")
        valid = (list(submission.columns) == list(sample.columns) and submission.id.equals(sample.id)
                 and submission.target.between(0, 1).all())
    print(f"\nrows {args.rows:,}; time limit {args.time_limit or 'none'}; exit {process.returncode}; "
          f"wall {wall:.0f} s; {cv}; submission valid: {valid}")
    print(f"peak memory of the command and its workers: RSS summed {memory.rss / GIB:.2f} GiB, PSS summed "
          f"{memory.pss / GIB:.2f} GiB; largest process {memory.largest / GIB:.2f} GiB ({memory.largest_name})")
    if not args.keep and not args.workdir:
        import shutil

        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
