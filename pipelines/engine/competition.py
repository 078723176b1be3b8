"""What a competition declares; the engine reads these fields and never names a competition."""
from collections.abc import Callable
from dataclasses import dataclass, field

from pipelines.core.devices import gpu_count
from pipelines.core.errors import UserError
from pipelines.engine.metrics import Metric
from pipelines.engine.params import Param, as_declared, current_name, search_space


@dataclass(frozen=True)
class Member:
    """One model of an ensemble: its fold-fitted features, its estimator and its own parameters.

    features(data, params) -> transformer, fitted inside each fold on its training rows
    model(params) -> estimator with fit(X, y, validation, callbacks, loggers) / predict(X)
    params: name -> Param, reached from outside as "member.name" (--set lasso.alpha=1e-3)
    needs(dataset) -> None, or why the member cannot train on this data (a text member on a table
                      without text): checked when the data is loaded
    check(params, dataset, log)  raises UserError for values no range can judge (a model folder
                      without weights) and logs what the data will meet (texts cut to max_length):
                      checked with `needs`, before anything is written
    gpu_default       in the default only on a machine with a GPU (fine-tuning a transformer: hours
                      on a CPU); it runs anywhere when named
    Both callables get the competition's shared parameters and this member's own (by their
    short names), plus `seed` (the fold's seed, for random_state) and `n_classes` (0 for regression).
    Members whose `features` is the same object share its fit in each fold.
    """

    features: Callable
    model: Callable
    params: dict = field(default_factory=dict)
    needs: Callable | None = None
    check: Callable | None = None
    gpu_default: bool = False


@dataclass(frozen=True)
class Competition:
    """One Kaggle competition: its files, target, metric, recipe and submission format.

    load(data_dir, params, train=True) -> Dataset   files -> checked frames/arrays, targets in model space;
                                                    train=False reads only the test files
    params                                          shared parameters: name -> Param (or a plain default)
    members                                         name -> Member: models on the same folds, chosen and
                                                    ordered by the `models` parameter, blended
    features, model                                 instead of members: the one model, whose parameters are
                                                    the shared ones
    splitter(folds, seed) -> scikit-learn splitter  its split() gets the targets and, with `groups`, the groups
    groups(dataset) -> array                        a group per training row; no group spans two folds
    submission(ids, predictions, classes) -> DataFrame in Kaggle's format
    check_submission(frame, source, classes)        raises UserError on invalid values
    classes(data_dir) -> list                       the class values, to check a submission file without a run
    monitor                                         a per-epoch logged validation value that moves in the
                                                    metric's direction (reported for pruning)
    exclude_from_training(X, y) -> mask             rows dropped from training folds (never from validation)
    presets                                         name -> parameter values (and optionally "folds");
                                                    the first is the CPU default, "gpu" the GPU default
    """

    name: str
    slug: str
    metric: Metric
    load: Callable
    splitter: Callable
    submission: Callable
    check_submission: Callable
    params: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)
    features: Callable | None = None
    model: Callable | None = None
    groups: Callable | None = None
    classes: Callable | None = None
    exclude_from_training: Callable | None = None
    monitor: str = "valid_loss"
    presets: dict = field(default_factory=dict)
    description: str = ""
    files: tuple = field(default=())
    sample_submission: str = "sample_submission.csv"  # its columns and id order define a valid submission

    def declared(self):
        """Every parameter by the name `--set` uses: shared ones, and `member.name` for each member's."""
        declared = as_declared(self.params)
        if self.members:
            models = declared.get("models", Param(tuple(self.members)))
            declared["models"] = Param(models.default, choices=tuple(self.members))
        for member_name, member in self.members.items():
            declared.update({f"{member_name}.{key}": value for key, value in as_declared(member.params).items()})
        return declared

    @property
    def defaults(self):
        return {key: param.default for key, param in self.declared().items()}

    def recorded_params(self, recorded):
        """A run folder's parameters, with those declared since the run was made at their defaults
        (each added parameter's default is what the code did before it existed; a renamed one under its
        name now)."""
        return {**self.defaults, **{current_name(key): value for key, value in recorded.items()}}

    def selected_members(self, params):
        """name -> Member for params["models"]; the single model when there are no members."""
        if not self.members:
            return {"model": Member(self.features, self.model)}
        names = params.get("models", tuple(self.members))
        names = (names,) if isinstance(names, str) else tuple(names)
        unknown = [name for name in names if name not in self.members]
        if unknown or not names:
            raise UserError(f"--set models={','.join(names)}: choose from {', '.join(self.members)} "
                            f"(comma-separated, e.g. models={','.join(list(self.members)[:2])})")
        return {name: self.members[name] for name in dict.fromkeys(names)}

    def fitting_models(self, params, dataset, chosen=False, log=print):
        """`params` with `models` cut to the members that can train on `dataset` (each member's `needs`
        says why one cannot): members the user `chosen` (--set models=...) must all fit; the others are
        left out of the default with a line saying why."""
        selected = self.selected_members(params)
        unfit = {name: member.needs(dataset) for name, member in selected.items() if member.needs}
        unfit = {name: why for name, why in unfit.items() if why}
        if not chosen and not gpu_count():
            unfit.update({name: "it is the default on a GPU only (slow on a CPU; --set models=... naming it runs it)"
                          for name, member in selected.items() if member.gpu_default and name not in unfit})
        for name, member in selected.items():
            if member.check and name not in unfit:
                member.check(self.member_params(name, params), dataset, lambda line, name=name: log(f"{name}: {line}"))
        if not unfit:
            return params
        if chosen:
            name, why = next(iter(unfit.items()))
            raise UserError(f"--set models={','.join(selected)}: {name} cannot train on this data ({why}); "
                            f"choose others from {', '.join(self.members)}")
        kept = [name for name in selected if name not in unfit]
        if not kept:
            raise UserError(f"no model of {self.name} can train on this data ("
                            + "; ".join(f"{name}: {why}" for name, why in unfit.items()) + ")")
        for name, why in unfit.items():
            log(f"{name} left out: {why}")
        return {**params, "models": tuple(kept)}

    def member_params(self, name, params, seed=0, n_classes=0, threads=1):
        """What member `name`'s callables see: shared parameters, its own by short name, seed, n_classes
        (name None: the shared parameters only, as features recipes see them). A `threads` of 0
        (the default: as many as the machine gives each worker) becomes `threads`."""
        view = {key: value for key, value in params.items() if "." not in key}
        if name is not None:
            prefix = f"{name}."
            view.update({key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)})
        if view.get("threads") == 0:
            view["threads"] = threads
        return {**view, "seed": seed, "n_classes": n_classes}

    def member_list(self, names):
        """name -> Member for already chosen names (the single model is "model")."""
        members = self.members or {"model": Member(self.features, self.model)}
        unknown = [name for name in names if name not in members]
        if unknown:  # a run recorded by code that declared other members
            raise UserError(f"the run's member {unknown[0]!r} is not a member of {self.name} in this code (it has "
                            f"{', '.join(members)}); check out the code the run was made with (its config.json "
                            "records it)")
        return {name: members[name] for name in names}

    def search_space(self, member_name=None):
        """trial -> suggested values of the shared parameters and member_name's that declare a search range."""
        declared = self.declared()
        names = [key for key in declared if "." not in key or (member_name and key.startswith(f"{member_name}."))]
        return search_space(declared, names)

    def searchable(self, member_name=None):
        declared = self.declared()
        return [key for key in declared if declared[key].search is not None
                and ("." not in key or (member_name and key.startswith(f"{member_name}.")))]
