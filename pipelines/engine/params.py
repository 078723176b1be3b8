"""Hyperparameters: each declared once with its default, valid values and search range.

A competition declares its shared parameters; each member declares its own, reached as
`member.name` (`--set lasso.alpha=4e-4`). Values from a preset, a params file or `--set`
are parsed as the default's type and checked against the valid values; tuning suggests
each parameter that declares a search range, under the same qualified name.
"""
import difflib
from dataclasses import dataclass

from pipelines.core.errors import UserError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """default: the value, whose type is the parameter's (a tuple's elements share one type).
    low, high: valid numbers (inclusive). choices: valid values (for a tuple, of each element).
    search: what tuning tries, (low, high) for numbers (log: on a log scale) or a tuple of choices.
    step: spacing of searched integers."""

    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    search: tuple | None = None
    log: bool = False
    step: int | None = None

    def check(self, key, value, source, shown=None):
        """`value` if valid, else one UserError naming it (as the user wrote it: `shown`)."""
        shown = format_value(value) if shown is None else shown
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if self.choices is not None and item not in self.choices:
                raise UserError(f"{source} {key}={shown}: choose from {', '.join(map(str, self.choices))}")
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if (self.low is not None and item < self.low) or (self.high is not None and item > self.high):
                bounds = (f"between {self.low} and {self.high}" if self.low is not None and self.high is not None
                          else f"at least {self.low}" if self.low is not None else f"at most {self.high}")
                raise UserError(f"{source} {key}={shown}: must be {bounds}")
        return value

    def suggest(self, trial, key):
        if self.search is None:
            return self.default
        if isinstance(self.default, bool) or not isinstance(self.default, (int, float)) or len(self.search) != 2 \
                or isinstance(self.search[0], str):
            return trial.suggest_categorical(key, list(self.search))
        low, high = self.search
        if isinstance(self.default, int):
            return trial.suggest_int(key, int(low), int(high), log=self.log, step=self.step or 1)
        return trial.suggest_float(key, float(low), float(high), log=self.log)


def parse_value(key, text, default, source="--set"):
    """Parse `text` as the type of `default`."""
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if kind is tuple:
            element = type(default[0]) if default else str
            return tuple(element(part.strip()) for part in text.split(",") if part.strip())
        if kind is float:
            return float(text)
        if kind is int:
            return int(text)
        return kind(text)
    except ValueError:
        raise UserError(
            f"{source} {key}={text}: expected a value of type {kind.__name__} "
            f"(default {key}={format_value(default)})"
        ) from None


def format_value(value):
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


RENAMED = {"stop_refit": "stop_retrain"}  # a parameter's old name -> its name now (a member's own, by short name)


def current_name(key):
    """`key` under its name now: run folders, parameter files and commands made before a parameter was
    renamed keep working."""
    member, dot, short = key.rpartition(".")
    return f"{member}{dot}{RENAMED[short]}" if short in RENAMED else key


def check_known(declared, key, source):
    if key in declared:
        return
    qualified = sorted(name for name in declared if name.endswith("." + key))
    close = qualified or difflib.get_close_matches(key, list(declared), n=3, cutoff=0.75)
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"known parameters: {', '.join(sorted(declared))}")
    raise UserError(f"unknown parameter {key!r} in {source}; {hint}")


def as_declared(declared):
    """{name: Param}, accepting plain default values as undeclared-range parameters."""
    return {key: value if isinstance(value, Param) else Param(value) for key, value in declared.items()}


def resolve(declared, assignments=(), overrides=None, preset=None):
    """Defaults, then a preset's values, then `overrides` (a dict, e.g. tuned params), then
    `key=value` strings; every value parsed as its default's type and checked against its range."""
    declared = as_declared(declared)
    params = {key: param.default for key, param in declared.items()}
    for source, values in (("preset", preset or {}), ("the parameters file", overrides or {})):
        for key, value in values.items():
            key = current_name(key)
            check_known(declared, key, source)
            params[key] = declared[key].check(key, parse_value(key, format_value(value), declared[key].default,
                                                               source), source)
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = current_name(key.strip())
        if not sep or not key:
            raise UserError(f"--set {assignment!r}: write it as key=value, e.g. --set max_epochs=50")
        check_known(declared, key, "--set")
        params[key] = declared[key].check(key, parse_value(key, text.strip(), declared[key].default), "--set",
                                          text.strip())
    return params


def search_space(declared, names):
    """trial -> {name: suggested value} for those of `names` that declare a search range."""
    declared = as_declared(declared)
    searched = [name for name in names if declared[name].search is not None]
    return lambda trial: {name: declared[name].suggest(trial, name) for name in searched}
