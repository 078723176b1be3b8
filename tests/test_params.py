import pytest

from pipelines.core.errors import UserError
from pipelines.engine.params import resolve

DEFAULTS = {"lr": 1e-3, "max_epochs": 10, "model": "mlp", "ema": False, "models": ("mlp", "lasso")}


def test_overrides_are_parsed_as_the_default_type():
    params = resolve(DEFAULTS, ["lr=0.5", "max_epochs=3", "model=resnet", "ema=true", "models=hgb, lasso"])
    assert params == {"lr": 0.5, "max_epochs": 3, "model": "resnet", "ema": True, "models": ("hgb", "lasso")}
    assert DEFAULTS["lr"] == 1e-3  # defaults untouched


def test_params_file_values_then_set_wins():
    params = resolve(DEFAULTS, ["lr=0.2"], overrides={"lr": 0.1, "max_epochs": 7})
    assert params["lr"] == 0.2 and params["max_epochs"] == 7


@pytest.mark.parametrize("assignment, message", [
    ("depth=3", "unknown parameter 'depth'"),
    ("max_epochs=2.5", "expected a value of type int"),
    ("lr=fast", "expected a value of type float"),
    ("ema=maybe", "expected a value of type bool"),
    ("lr", "write it as key=value"),
])
def test_bad_assignments_are_user_errors(assignment, message):
    with pytest.raises(UserError, match=message):
        resolve(DEFAULTS, [assignment])


def test_unknown_key_in_params_file():
    with pytest.raises(UserError, match="unknown parameter 'depth' in the parameters file"):
        resolve(DEFAULTS, overrides={"depth": 3})
