"""Hyperparameters: a competition's typed defaults, overridden by `--set key=value`."""
from .errors import UserError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_value(key, text, default):
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
            f"--set {key}={text}: expected a value of type {kind.__name__} "
            f"(default {key}={format_value(default)})"
        ) from None


def format_value(value):
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def check_known(defaults, keys, source):
    unknown = sorted(set(keys) - set(defaults))
    if unknown:
        raise UserError(
            f"unknown parameter {unknown[0]!r} in {source}; known parameters: {', '.join(sorted(defaults))}"
        )


def resolve(defaults, assignments=(), overrides=None):
    """Defaults, then `overrides` (a dict, e.g. tuned params), then `key=value` strings."""
    params = dict(defaults)
    for key, value in (overrides or {}).items():
        check_known(defaults, [key], "the parameters file")
        params[key] = parse_value(key, format_value(value), defaults[key])
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {assignment!r}: write it as key=value, e.g. --set max_epochs=50")
        check_known(defaults, [key], "--set")
        params[key] = parse_value(key, text.strip(), defaults[key])
    return params
