"""python -m pipelines.predict RUN_DIR: a submission from a finished run's saved models, without training.

The competition's test files in --data-dir (default: the run's data folder) may be a new test
set with other ids, as in code competitions; the training files are not needed. On the run's
own data the submission is the run's, byte for byte. The last line printed is its path.
"""
import argparse
from pathlib import Path

import competitions
from pipelines.core.errors import cli_main
from pipelines.engine.options import add_debug_argument, check_threads
from pipelines.engine.prediction import fold_keys, predict
from pipelines.engine.workers import check_cluster, check_options, plan, workers_argument
from pipelines.record.runfolder import RunFolder, code_digest
from submissions.write import check_output_path


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run's folder, e.g. runs/house_prices/20261123T101500123456Z")
    parser.add_argument("--data-dir", help="folder with the competition's test files (default: the run's data folder)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--workers", metavar="N",
                        help="models predicting at a time, each in a worker process (default 1: in this process, "
                             "quickest for tables; auto: as many as the cores allow, for large image test sets)")
    parser.add_argument("--threads", type=int, metavar="N", help="threads of each model (default: the cores "
                        "shared among the workers)")
    parser.add_argument("--cluster", metavar="tcp://HOST:PORT",
                        help="predict on the workers of this Dask scheduler (they must see the run and data folders)")
    add_debug_argument(parser)
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    check_options(args.workers, args.cluster)
    requested = workers_argument(args.workers, default="1")
    check_threads(args.threads)
    if args.submission:
        check_output_path(args.submission)
    folder = RunFolder.open(args.run_dir)
    config = folder.config
    known = not config.get("kind") == "blend" and {"refit", "folds", "members"} <= set(config)
    models = len(fold_keys(config)) * len(config["members"]) if known else 10**6  # a blend: its runs' models
    workers = plan(requested, max(1, models), args.cluster, args.threads, config.get("folds") if known else None)
    if workers.cluster and known:
        data_dir = Path(args.data_dir or config.get("data_dir", "."))
        competitions.get(*folder.require_config("competition"))  # its module counts in the code's digest
        check_cluster(workers.cluster, config["competition"], [data_dir.resolve(), folder.path.resolve()],
                      code_digest(config["competition"]))
    print(predict(args.run_dir, args.data_dir, args.submission, workers))


if __name__ == "__main__":
    main()
