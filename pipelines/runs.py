"""python -m pipelines.runs [NAME] [--csv] [--wide]: the table of runs, best CV first within each competition.

Columns: start time, competition, preset, members, folds and seed, CV mean ± std, wall time,
status, submission file, the Kaggle public score (once `pipelines.submit NAME --status` has
seen that file submitted), the code the run ran with (runs that show the same digest ran the
same code) and the parameters that differ from the defaults (with the preset), cut to the
terminal's width unless --wide (--csv has them all).
"""
import argparse
import math
import shutil
import sys

import pandas as pd

from pipelines.core.errors import UserError, cli_main
from pipelines.engine.params import format_value
from pipelines.record.runfolder import RUNS_DIR, RunFolder
from submissions.submit import read_ledger

COLUMNS = ["started", "competition", "preset", "members", "folds", "seed", "cv", "cv_std", "seconds", "status",
           "submission", "public_score", "code", "changed", "run_dir"]


def changed_params(config):
    baseline, params = config.get("baseline", {}), config.get("params", {})
    return " ".join(f"{key}={format_value(value)}" for key, value in params.items() if baseline.get(key) != value)


def public_score(ledger, digest):
    scores = [entry.get("public") for entry in ledger if entry.get("sha256") == digest and entry.get("public")]
    return scores[-1] if scores else None


def run_row(path, ledgers):
    folder = RunFolder(path)
    try:
        config, status = folder.config, folder.status
    except UserError:
        return None
    metrics = {}
    if status.get("status") == "complete":
        try:
            metrics = folder.metrics
        except UserError:
            pass
    name = config.get("competition", path.parent.name)
    if name not in ledgers:
        ledgers[name] = read_ledger(name)
    members = config.get("members", [])
    if config.get("kind") == "blend":
        members = [f"blend of {len(config.get('sources', []))} runs"]
    return {
        "started": config.get("started", ""), "competition": name, "preset": config.get("preset") or "",
        "members": ",".join(members), "folds": config.get("folds"), "seed": config.get("seed"),
        "cv": metrics.get("mean"), "cv_std": metrics.get("std"), "seconds": metrics.get("seconds"),
        "status": status.get("status", "unknown"), "submission": status.get("submission", ""),
        "public_score": public_score(ledgers[name], status.get("submission_sha256")),
        "code": (config.get("code", {}).get("digest") or "")[:8], "changed": changed_params(config), "run_dir": str(path),
        "_better": config.get("metric", {}).get("greater_is_better", False),
    }


def collect(name=None):
    """Rows of every run under runs/ (of one competition), best CV first within a competition."""
    base = RUNS_DIR / name if name else RUNS_DIR
    pattern = "*/config.json" if name else "*/*/config.json"
    ledgers, rows = {}, []
    for config_path in sorted(base.glob(pattern)) if base.is_dir() else []:
        row = run_row(config_path.parent, ledgers)
        if row is not None:
            rows.append(row)

    def order(row):
        scored = row["cv"] is not None and math.isfinite(row["cv"])
        return row["competition"], not scored, ((-row["cv"] if row["_better"] else row["cv"]) if scored else 0.0)

    rows.sort(key=lambda row: row["started"], reverse=True)  # newest first among runs without a CV
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in sorted(rows, key=order)]


def format_table(rows, width=None):
    """The rows as aligned columns; with `width`, the "changed" column is cut so lines fit."""
    shown = []
    for row in rows:
        cv = "" if row["cv"] is None else (f"{row['cv']:.5f}" + (f" ± {row['cv_std']:.5f}" if row["cv_std"] else ""))
        shown.append({"started": row["started"].replace("+00:00", "Z"), "competition": row["competition"],
                      "preset": row["preset"], "members": row["members"], "folds/seed": f"{row['folds']}/{row['seed']}",
                      "CV": cv, "wall": "" if row["seconds"] is None else f"{row['seconds']:.0f}s",
                      "status": row["status"], "submission": row["submission"],
                      "public": "" if row["public_score"] is None else str(row["public_score"]),
                      "code": row["code"], "changed": row["changed"], "run folder": row["run_dir"]})
    headers = list(shown[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in shown)) for h in headers}
    if width:
        others = sum(widths[h] + 2 for h in headers if h != "changed")
        room = max(len("changed"), width - others)
        if widths["changed"] > room:
            widths["changed"] = room
            for row in shown:
                if len(row["changed"]) > room:
                    row["changed"] = row["changed"][:room - 1] + "…"
    lines = ["  ".join(h.ljust(widths[h]) for h in headers)]
    lines += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers).rstrip() for r in shown]
    return "\n".join(lines)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("competition", nargs="?", help="only this competition's runs")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.add_argument("--wide", action="store_true", help="do not cut the changed parameters to the terminal's width")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.competition:
        import competitions

        competitions.get(args.competition)  # an unknown name is an error, not an empty table
    rows = collect(args.competition)
    if args.csv:
        pd.DataFrame(rows, columns=COLUMNS).to_csv(sys.stdout, index=False)
    elif not rows:
        where = RUNS_DIR / args.competition if args.competition else RUNS_DIR
        print(f"no runs in {where}")
    else:
        print(format_table(rows, None if args.wide else shutil.get_terminal_size().columns))


if __name__ == "__main__":
    main()
