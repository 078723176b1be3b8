"""Errors caused by the user's input, reported as one line without a traceback."""
import functools
import sys


class UserError(Exception):
    """Bad input: the message names the problem and the fix."""


def cli_main(main):
    """Run a command's main(); turn UserError into one line on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper
