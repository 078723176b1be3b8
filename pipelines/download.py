"""python -m pipelines.download NAME [--data-dir DIR] [--force]: a competition's files from Kaggle,
downloaded and extracted once, verified afterwards (pipelines/kaggle/data.py).
"""
import argparse

import competitions
from pipelines.core.data import data_folder
from pipelines.core.errors import cli_main
from pipelines.kaggle.data import download


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.download", description=__doc__.split("\n\n")[0])
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("--data-dir", help="where the files go (default data/<kaggle slug>)")
    parser.add_argument("--force", action="store_true", help="download again and replace the data folder")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    competition = competitions.get(args.competition)
    print(download(competition, data_folder(args.data_dir, competition), force=args.force))


if __name__ == "__main__":
    main()
