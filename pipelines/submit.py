"""python -m pipelines.submit NAME FILE -m MESSAGE [--dry-run] | NAME --status

Validates FILE with the checks `pipelines.run` applies (columns, ids and their order as in the
sample submission, the competition's value checks) and submits it through the Kaggle API.
"""
import argparse

import competitions
from pipelines.core.errors import UserError, cli_main
from pipelines.kaggle.data import locate_or_download
from submissions.submit import require_message, status, submit, validate_file


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.submit", description=__doc__.split("\n\n")[1])
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("file", nargs="?", help="the submission CSV")
    parser.add_argument("-m", "--message", help="the submission's description on Kaggle")
    parser.add_argument("--dry-run", action="store_true", help="validate only; submit nothing")
    parser.add_argument("--status", action="store_true", help="list recent submissions with status and scores")
    parser.add_argument("--data-dir", help="folder of the competition's files, for the sample submission "
                        "(default data/<kaggle slug>)")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    competition = competitions.get(args.competition)
    if args.status:
        if args.file:
            raise UserError("--status lists submissions; drop FILE, or drop --status to submit FILE")
        status(competition)
        return
    if not args.file:
        raise UserError(f"give the file to submit: python -m pipelines.submit {competition.name} FILE -m MESSAGE")
    if not args.dry_run:
        require_message(args.message)
    data_dir = locate_or_download(args.data_dir, competition)
    validate_file(competition, args.file, data_dir)
    if args.dry_run:
        print(f"{args.file} is a valid {competition.name} submission (dry run: nothing submitted)")
        return
    submit(competition, args.file, args.message)


if __name__ == "__main__":
    main()
