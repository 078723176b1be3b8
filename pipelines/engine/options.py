"""Command-line options the commands share: the arguments over a competition and its workers,
presets, parameter files and --set resolved into a run's parameters, and the checks of each option.
"""
import argparse
import json
from pathlib import Path

import competitions
from pipelines.core.devices import gpu_count
from pipelines.core.errors import UserError
from pipelines.engine.params import resolve


def competition_parser(prog, description, set_help):
    """The arguments every command over a competition shares."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("--data-dir", help="folder with the competition's Kaggle files (default data/<slug>)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, training and sampling (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    add_debug_argument(parser)
    return parser


def add_debug_argument(parser):
    parser.add_argument("--debug", action="store_true",
                        help="print the whole traceback of an error raised in a competition's own code")


def add_worker_arguments(parser, what="models", default="auto: as many as the cores, or the GPUs, allow"):
    parser.add_argument("--workers", metavar="N",
                        help=f"{what} at a time, each in a worker process of its own (default {default}; 1: in this "
                             "process; PIPELINES_WORKERS sets the default)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="threads of each model that leaves them to the run (default: the cores shared among "
                             "the workers)")
    parser.add_argument("--cluster", metavar="tcp://HOST:PORT",
                        help=f"send the {what} to the workers of this Dask scheduler instead (they must see the data "
                             "and run folders at the same paths)")


def read_params_file(paths):
    """The parameters of one or several JSON files (later files win). A tuning run's best_params.json
    holds them under "params", beside what the search was found with."""
    if paths is None:
        return {}
    merged = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        try:
            params = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"--params {path}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"--params {path} is a folder; give a JSON file such as its best_params.json") from None
        except PermissionError:
            raise UserError(f"--params {path}: not allowed to read it") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"--params {path}: not valid JSON ({error})") from None
        if isinstance(params, dict) and set(params) == {"params", "found_with"} and isinstance(params["params"], dict):
            params = params["params"]
        if not isinstance(params, dict):
            raise UserError(f"--params {path}: expected a JSON object of name: value")
        merged.update(params)
    return merged


def choose_preset(competition, name):
    """(preset name, its params, its default folds); competitions without presets have none."""
    if not competition.presets:
        if name:
            raise UserError(f"{competition.name} has no presets; drop --preset")
        return None, {}, 5
    if name is None:
        name = "gpu" if gpu_count() and "gpu" in competition.presets else next(iter(competition.presets))
    if name not in competition.presets:
        raise UserError(f"--preset {name}: {competition.name} has presets {', '.join(competition.presets)}")
    preset = dict(competition.presets[name])
    return name, preset, preset.pop("folds", 5)


def resolve_params(competition, preset, params_file=None, assignments=()):
    """Defaults, then the preset, then a params file, then --set (each value checked against its range)."""
    return resolve(competition.declared(), assignments, read_params_file(params_file), preset=preset)


def resolve_settings(competition, preset_name, params_file, assignments, folds):
    """(preset name, params, folds, the defaults with the preset applied), as run and tune both resolve them."""
    preset, preset_params, preset_folds = choose_preset(competition, preset_name)
    params = resolve_params(competition, preset_params, params_file, assignments)
    folds = preset_folds if folds is None else folds
    check_folds(folds)
    return preset, params, folds, resolve_params(competition, preset_params)


def check_time_limit(limit):
    if limit is not None and not limit > 0:
        raise UserError(f"--time-limit {limit:g}: give a positive number of seconds")


def check_threads(threads):
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: give 1 or more threads, or leave it out (the cores shared among the workers)")


def check_folds(folds):
    if folds < 1:
        raise UserError(f"--folds {folds}: use 1 (a holdout split) or more")


def check_seed(seed):
    if not 0 <= seed < 2**32:
        raise UserError(f"--seed {seed}: give a whole number from 0 to {2**32 - 1}")
