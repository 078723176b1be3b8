"""Run folders: predict and resume times, run folder sizes.

    python -m benchmarks.runs [--data-dir DIR] [--spaceship-data-dir DIR] [--image-run RUN_DIR ...]

House Prices and Spaceship Titanic (always): the run's whole-command wall time in one process
(--workers 1) and with the default workers; `pipelines.predict` of the first (whole command,
and in-process without interpreter start-up and imports) and its ratio to each run. House
Prices also: a run killed (SIGKILL) during fold 3 of 5 and resumed, timed against the fold
seconds the resume had to train again. Each `--image-run` (a finished CIFAR-10 or dog
breeds run) is predicted from a cold image cache (a fresh, temporary cache folder). Every run
folder's size is printed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "house-prices-advanced-regression-techniques"


def env(**extra):
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def command(args, cwd, **extra):
    """(seconds, stdout) of `python -m args` in cwd; exits on failure."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=env(**extra))
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def size(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def newest_run(workdir, name):
    return max((Path(workdir) / "runs" / name).glob("2*"))


def in_process_predict(run_dir, workdir, name):
    """Seconds of pipelines.predict.predict() once its modules are imported."""
    script = (f"import time, sys; from pipelines.predict import predict; import competitions.{name}\n"
              "start = time.perf_counter(); predict(sys.argv[1], submission_path='inproc.csv', log=lambda *a: None)\n"
              "print(time.perf_counter() - start)")
    done = subprocess.run([sys.executable, "-c", script, str(run_dir)], cwd=workdir, capture_output=True, text=True,
                          env=env(), check=True)
    return float(done.stdout.strip().splitlines()[-1])


def kill_during_fold(args, workdir, last_member, fold):
    """Start `pipelines.run args`, SIGKILL it one second into `fold`; returns its run folder."""
    before = set((Path(workdir) / "runs" / "house_prices").glob("2*"))
    process = subprocess.Popen([sys.executable, "-m", "pipelines.run", *args], cwd=workdir, env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        new = set((Path(workdir) / "runs" / "house_prices").glob("2*")) - before
        if new and (next(iter(new)) / "members" / last_member / f"fold-{fold - 1}" / "record.json").exists():
            break
        if process.poll() is not None:
            sys.exit("the run ended before it could be killed")
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return next(iter(new))


def predict_times(name, data_dir, workdir, label):
    """Runs of `name` with one process and with the default workers, and predict of the first."""
    args = ["pipelines.run", name, "--data-dir", str(Path(data_dir).resolve())]
    one_seconds, _ = command([*args, "--workers", "1"], workdir)
    run_dir = newest_run(workdir, name)
    default_seconds, _ = command(args, workdir)
    predict_seconds, _ = command(["pipelines.predict", str(run_dir), "--submission", "p.csv"], workdir)
    status = json.loads((run_dir / "status.json").read_text())
    same = Path(workdir, "p.csv").read_bytes() == (Path(workdir) / status["submission"]).read_bytes()
    inner = in_process_predict(run_dir, workdir, name)
    print(label)
    print(f"  run, whole command, --workers 1    {one_seconds:7.1f} s")
    print(f"  run, whole command, default        {default_seconds:7.1f} s   (--workers auto)")
    print(f"  predict, whole command             {predict_seconds:7.1f} s   ratio {predict_seconds / one_seconds:.3f} of "
          f"the one-process run, {predict_seconds / default_seconds:.3f} of the default run; same submission: {same}")
    print(f"  predict, in process (no imports)   {inner:7.1f} s   ratio {inner / one_seconds:.3f}")
    print(f"  run folder size                    {size(run_dir) / 2**20:7.1f} MiB")
    return args, run_dir, status


def house_prices(data_dir):
    workdir = tempfile.mkdtemp(prefix="bench-runs-")
    args, run_dir, status = predict_times("house_prices", data_dir, workdir,
                                          "House Prices (default run, 5 folds, 5 members)")
    config = json.loads((run_dir / "config.json").read_text())
    one = ["--workers", "1"]  # killed in fold 3 of 5, folds in order
    killed = kill_during_fold([*args[1:], *one, "--submission", "resumed.csv"], workdir, config["members"][-1], 3)
    resume_seconds, _ = command([*args, *one, "--resume", str(killed)], workdir)
    missing = sum(json.loads(record.read_text())["seconds"] for member in config["members"]
                  for record in (killed / "members" / member).glob("fold-[34]/record.json"))
    same = (Path(workdir) / "resumed.csv").read_bytes() == (Path(workdir) / status["submission"]).read_bytes()
    print(f"  resume after SIGKILL in fold 3/5   {resume_seconds:7.1f} s   the folds it trained (3, 4 of each member): "
          f"{missing:.1f} s; same submission as the uninterrupted run: {same}")


def spaceship_titanic(data_dir):
    workdir = tempfile.mkdtemp(prefix="bench-runs-")
    predict_times("spaceship_titanic", data_dir, workdir, "Spaceship Titanic (default run, 5 folds, 4 members)")


def image_run(run_dir):
    run_dir = Path(run_dir).resolve()
    config = json.loads((run_dir / "config.json").read_text())
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache, \
            tempfile.TemporaryDirectory(prefix="bench-predict-") as workdir:
        seconds, _ = command(["pipelines.predict", str(run_dir), "--submission", "p.csv"], workdir,
                             PIPELINES_CACHE_DIR=cache)
        status = json.loads((run_dir / "status.json").read_text())
        submission = Path(status["submission"])
        submission = submission if submission.is_absolute() else run_dir.parents[2] / submission
        same = submission.is_file() and Path(workdir, "p.csv").read_bytes() == submission.read_bytes()
        rows = len(Path(workdir, "p.csv").read_text().splitlines()) - 1
    print(f"{config['competition']} ({config.get('preset')} preset): predict of {rows} test images from a cold "
          f"image cache {seconds:.1f} s (run: {json.loads((run_dir / 'metrics.json').read_text())['seconds']:.0f} s); "
          f"same submission: {same}; run folder {size(run_dir) / 2**20:.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--spaceship-data-dir", type=Path, default=DEFAULT_DATA.parent / "spaceship-titanic")
    parser.add_argument("--image-run", action="append", default=[], help="a finished cifar10 or dog_breeds run")
    args = parser.parse_args()
    house_prices(args.data_dir)
    spaceship_titanic(args.spaceship_data_dir)
    for run_dir in args.image_run:
        image_run(run_dir)


if __name__ == "__main__":
    main()
