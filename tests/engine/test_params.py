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


def test_a_renamed_parameter_keeps_its_old_name_working():
    """GBDTs' `stop_refit` is `stop_retrain` now (a run's --refit is another thing): commands, files
    and run folders that use the old name mean the new one."""
    from pipelines.recipes.tabular import tabular_competition

    competition = tabular_competition(name="t", slug="t", id_column="id", target="y", metric="rmse",
                                      members=("lgbm",))
    assert competition.defaults["lgbm.stop_retrain"] is True and "lgbm.stop_refit" not in competition.defaults
    resolved = resolve(competition.declared(), ["lgbm.stop_refit=false"])
    assert resolved["lgbm.stop_retrain"] is False and "lgbm.stop_refit" not in resolved
    assert resolve(competition.declared(), overrides={"lgbm.stop_refit": False})["lgbm.stop_retrain"] is False
    before = {("lgbm.stop_refit" if key == "lgbm.stop_retrain" else key): value
              for key, value in competition.defaults.items()}  # a run folder made before the rename
    recorded = competition.recorded_params({**before, "lgbm.stop_refit": False})
    assert recorded["lgbm.stop_retrain"] is False and "lgbm.stop_refit" not in recorded
