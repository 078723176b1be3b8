"""Members for tabular competitions: LightGBM, XGBoost, CatBoost, a linear model and the Lightning MLP.

Each is a function (inputs, classification) -> Member, where `inputs` maps "trees", "linear" and
"text" to the competition's features recipes: GBDTs get native categories and missing values
("trees"), the linear model and the MLP imputed, scaled and one-hot inputs ("linear"), the text
member the tf-idf of the text columns ("text"). Every
member declares its parameters with valid and searched ranges here, takes `seed` as its
random_state and runs with `threads` threads (0, the default: as the run shares the machine's
cores, pipelines.engine.workers.plan; see SklearnEstimator). Model libraries are imported when a model is
built, so declaring a competition imports none of them.
"""
import pandas as pd
from sklearn.base import BaseEstimator, clone

from features.text import JoinedText
from pipelines.engine.competition import Member
from pipelines.engine.params import Param
from pipelines.training.estimator import LightningEstimator, SklearnEstimator

THREADS = Param(0, low=0, high=256)  # 0: the run chooses (pipelines.engine.workers.plan)
FRACTION = {"low": 0.05, "high": 1.0}
# Above this many training rows a GBDT keeps its stopped model and CatBoost boosts half its rounds at twice
# its rate. One number for both: a CatBoost stopped at this size and then retrained would be halved twice.
LARGE_ROWS = 250_000


def boosting(rounds, learning_rate, search_rate, patience=100, retrain=True):
    """A GBDT's rounds and rate. With patience > 0, `rounds` is a cap: the rounds are chosen by early
    stopping on `stop_fraction` of the fold's training rows, and (stop_retrain) the model then trains
    on every training row for those rounds / (1 - stop_fraction). With patience 0 it trains exactly
    `rounds` rounds (as a run's --refit does: the folds' chosen rounds, scaled to all rows)."""
    return {
        "rounds": Param(rounds, low=1, search=None if patience else (200, 3000), log=True),
        "learning_rate": Param(learning_rate, low=1e-4, high=1.0, search=search_rate, log=True),
        "patience": Param(patience, low=0, search=None),
        "stop_fraction": Param(0.15, low=0.02, high=0.5),
        "stop_retrain": Param(retrain),
        # above this many training rows the stopped model is kept: 15% more rows add little to a large
        # table, and training again would double its time (benchmarks/RESULTS.md, "A million rows")
        "retrain_rows": Param(LARGE_ROWS, low=0),
    }


def early_stop(p):
    from pipelines.training.gbdt import EarlyStop

    return (EarlyStop(p["stop_fraction"], p["patience"], p["seed"], p["stop_retrain"], p["retrain_rows"])
            if p["patience"] else None)


def lightgbm(inputs, classification, log_target=False):
    def model(p):
        from lightgbm import LGBMClassifier, LGBMRegressor

        kind = LGBMClassifier if classification else LGBMRegressor
        return SklearnEstimator(kind(
            n_estimators=p["rounds"], learning_rate=p["learning_rate"], num_leaves=p["num_leaves"],
            min_child_samples=p["min_child_samples"], subsample=p["subsample"], subsample_freq=1,
            colsample_bytree=p["colsample_bytree"], reg_lambda=p["reg_lambda"], cat_smooth=p["cat_smooth"],
            random_state=p["seed"], n_jobs=p["threads"], verbose=-1,
            deterministic=True, force_col_wise=True),  # the same trees for any number of threads
            p["n_classes"], p["threads"], early_stop=early_stop(p), log_target=log_target)

    return Member(inputs["trees"], model, {
        **boosting(5000, 0.05, (0.01, 0.2)),
        "num_leaves": Param(16, low=2, search=(4, 128), log=True),
        "min_child_samples": Param(20, low=1, search=(5, 100), log=True),
        "subsample": Param(0.8, **FRACTION, search=(0.5, 1.0)),
        "colsample_bytree": Param(0.7, **FRACTION, search=(0.3, 1.0)),
        "reg_lambda": Param(1.0, low=0.0, search=(1e-3, 30.0), log=True),
        "cat_smooth": Param(10.0, low=0.0, search=(1.0, 100.0), log=True),
        "threads": THREADS,
    })


def xgboost(inputs, classification):
    def model(p):
        from xgboost import XGBClassifier, XGBRegressor

        kind = XGBClassifier if classification else XGBRegressor
        return SklearnEstimator(kind(
            n_estimators=p["rounds"], learning_rate=p["learning_rate"], max_depth=p["max_depth"],
            min_child_weight=p["min_child_weight"], subsample=p["subsample"], colsample_bytree=p["colsample_bytree"],
            reg_lambda=p["reg_lambda"], tree_method="hist", enable_categorical=True, random_state=p["seed"],
            n_jobs=p["threads"]), p["n_classes"], p["threads"], early_stop=early_stop(p))

    return Member(inputs["trees"], model, {
        **boosting(5000, 0.05, (0.01, 0.2)),
        "max_depth": Param(5, low=1, high=16, search=(2, 10)),
        "min_child_weight": Param(1.0, low=0.0, search=(0.5, 30.0), log=True),
        "subsample": Param(0.8, **FRACTION, search=(0.5, 1.0)),
        "colsample_bytree": Param(0.7, **FRACTION, search=(0.3, 1.0)),
        "reg_lambda": Param(1.0, low=0.0, search=(1e-3, 30.0), log=True),
        "threads": THREADS,
    })


class CatBoostOnFrames(BaseEstimator):
    """CatBoost told which columns are categorical (the pandas categoricals) and given them as
    text, since it takes no missing category. Saved as CatBoost's own file (pipelines/training/gbdt.py).
    On more than `large_rows` training rows it boosts half its rounds at twice its rate."""

    native_library = "catboost"

    def __init__(self, catboost, large_rows=None):
        self.catboost = catboost
        self.large_rows = large_rows

    def model_from(self, path):
        """A fitted copy whose CatBoost model is read from `path`."""
        fitted = clone(self)
        fitted.model_ = clone(self.catboost).load_model(str(path))
        fitted.classes_ = getattr(fitted.model_, "classes_", None)
        return fitted

    @staticmethod
    def _inputs(X):
        categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        X = X.copy()
        for column in categorical:
            X[column] = X[column].astype(str).where(X[column].notna(), "<missing>")
        return X, categorical

    def fit(self, X, y, eval_set=None, early_stopping_rounds=None, callbacks=None):
        X, categorical = self._inputs(X)
        stop = None if eval_set is None else (self._inputs(eval_set[0])[0], eval_set[1])
        model = clone(self.catboost)
        if self.large_rows is not None and len(X) > self.large_rows:
            model.set_params(iterations=max(1, model.get_param("iterations") // 2),
                             learning_rate=2 * model.get_param("learning_rate"))
        self.model_ = model.fit(X, y, cat_features=categorical, eval_set=stop,
                                early_stopping_rounds=early_stopping_rounds, callbacks=callbacks)
        self.classes_ = getattr(self.model_, "classes_", None)
        return self

    def predict(self, X):
        return self.model_.predict(self._inputs(X)[0])

    def predict_proba(self, X):
        return self.model_.predict_proba(self._inputs(X)[0])


def catboost(inputs, classification, log_target=False):
    def model(p):
        from catboost import CatBoostClassifier, CatBoostRegressor

        kind = CatBoostClassifier if classification else CatBoostRegressor
        return SklearnEstimator(CatBoostOnFrames(kind(
            iterations=p["rounds"], learning_rate=p["learning_rate"], depth=p["depth"],
            l2_leaf_reg=p["l2_leaf_reg"], random_strength=p["random_strength"], random_seed=p["seed"],
            thread_count=p["threads"], verbose=0, allow_writing_files=False), p["large_rows"]),
            p["n_classes"], p["threads"], early_stop=early_stop(p), log_target=log_target)

    return Member(inputs["trees"], model, {
        # Fixed rounds: on three tables 800 at 0.04 scored as well as early stopping, in less time
        # (benchmarks/RESULTS.md, "Default tabular recipe"); catboost.patience=100 stops early.
        **boosting(800, 0.04, (0.01, 0.2), patience=0),
        # half the rounds at twice the rate above this many training rows: on 200,000 rows the same AUC
        # to 1e-4 in half the time (benchmarks/RESULTS.md, "A million rows")
        "large_rows": Param(LARGE_ROWS, low=0),
        "depth": Param(6, low=1, high=16, search=(4, 9)),
        "l2_leaf_reg": Param(3.0, low=0.0, search=(1.0, 30.0), log=True),
        "random_strength": Param(1.0, low=0.0, search=(0.1, 10.0), log=True),
        "threads": THREADS,
    })


def tfidf(inputs, classification):
    """Logistic regression (classes) or ridge regression (numbers) on the tf-idf of the table's text:
    word 1-2-grams and character 2-5-grams (features/text.py), fitted per fold."""
    def model(p):  # Newton-CG: a few steps on sparse tf-idf where L-BFGS takes a hundred (30 s a fold)
        return linear_model(p, classification, solver="newton-cg")

    # C 1 on 16,000 tweets scored 0.593 held out against 0.618 at C 4; 50,000 and 100,000 n-grams as well as more
    return Member(inputs["text"], model, {
        "C": Param(1.0, low=1e-8, search=(0.1, 100.0), log=True),  # inverse regularisation (ridge: alpha = 1/C)
        "words": Param(50_000, low=1, search=(10_000, 300_000), log=True),
        "characters": Param(100_000, low=1, search=(20_000, 500_000), log=True),
        "min_df": Param(2, low=1, search=(1, 5)),
        "threads": THREADS,
    })


def minilm(inputs, classification):
    """Logistic regression (classes) or ridge regression (numbers) on the text's embedding by a frozen
    sentence encoder (features/sentences.py: all-MiniLM-L6-v2 by default, `model` a local folder of
    another), each text embedded once and cached."""
    def model(p):
        return linear_model(p, classification)

    return Member(inputs["sentences"], model, {
        "C": Param(2.0, low=1e-8, search=(0.05, 50.0), log=True),
        "model": Param(""),  # a local folder of a Hugging Face model; empty: the packaged all-MiniLM-L6-v2
        "max_length": Param(128, low=8, high=512),
        "threads": THREADS,
    }, check=check_model)


def transformer(inputs, classification):
    """A pretrained text encoder fine-tuned with a new head (pipelines/training/models/text.py): `model` a
    local folder of a Hugging Face model (a Kaggle dataset's DeBERTa-v3, ...), empty: the packaged
    all-MiniLM-L6-v2. A GPU's default member where there is text; on a CPU it runs when named."""
    def model(p):
        from pipelines.training.datamodules import TextDataModule
        from pipelines.training.models.text import FineTunedText, FineTunedTextRegressor

        module_params = {key: p[key] for key in ("max_length", "lr", "head_lr_scale", "weight_decay", "warmup",
                                                 "layer_decay", "dropout")}
        module_params["model"] = p["model"]
        if classification:
            module_params.update(n_classes=p["n_classes"], label_smoothing=p["label_smoothing"])
        return LightningEstimator(FineTunedText if classification else FineTunedTextRegressor, module_params,
                                  batch_size=p["batch_size"], max_epochs=p["max_epochs"],
                                  datamodule_class=TextDataModule, datamodule_params={"eval_batch_size": 128},
                                  threads=p["threads"])

    return Member(inputs["raw_text"], model, {
        "model": Param(""),  # a local folder of a Hugging Face model; empty: the packaged all-MiniLM-L6-v2
        "max_length": Param(256, low=8, high=4096),
        "lr": Param(5e-5, low=1e-7, high=1e-2, search=(1e-5, 2e-4), log=True),
        "head_lr_scale": Param(20.0, low=1.0, high=1000.0),  # the new head starts from nothing
        "weight_decay": Param(0.01, low=0.0, search=(1e-4, 0.1), log=True),
        "warmup": Param(0.1, low=0.0, high=0.5, search=(0.0, 0.2)),
        "layer_decay": Param(1.0, low=0.1, high=1.0, search=(0.7, 1.0)),  # each lower layer's rate: this times the one above
        "dropout": Param(0.1, low=0.0, high=0.9),
        "label_smoothing": Param(0.0, low=0.0, high=0.5),
        "batch_size": Param(32, low=1, search=(16, 64), log=True),
        "max_epochs": Param(3, low=1, search=(2, 5)),
        "threads": THREADS,
    }, check=check_texts, gpu_default=True)


def check_model(p, dataset=None, log=print):
    """A model folder given with --set MEMBER.model=PATH holds weights and a tokenizer."""
    from pipelines.training.encoders import model_folder

    if p["model"]:
        model_folder(p["model"])


def check_texts(p, dataset, log=print):
    """check_model, then how many of the training and test texts the member's tokenizer cuts to max_length."""
    from pipelines.training.encoders import model_folder
    from pipelines.training.models.text import load_tokenizer

    check_model(p)
    tokenizer, _, longest = load_tokenizer(model_folder(p["model"]))
    columns = tuple(dataset.info.get("columns", {}).get("text", ()))
    texts = [str(text) for frame in (dataset.X, dataset.X_test) if frame is not None
             for text in JoinedText(columns).fit(frame).transform(frame)]
    tokenizer.no_truncation()
    tokenizer.no_padding()
    limit = min(p["max_length"], longest)
    longer = sum(len(encoding.ids) > limit for encoding in tokenizer.encode_batch(texts))
    if longer:
        log(f"{longer} of {len(texts)} texts are longer than {limit} tokens: cut to their first {limit} "
            f"(a larger max_length keeps more, up to {longest})")


def linear_model(p, classification, solver="lbfgs"):
    """Logistic regression for classes, ridge regression for numbers (alpha = 1/C)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    if classification:
        return SklearnEstimator(LogisticRegression(C=p["C"], solver=solver, max_iter=5000, random_state=p["seed"]),
                                p["n_classes"], p["threads"])
    return SklearnEstimator(Ridge(alpha=1.0 / p["C"], random_state=p["seed"]), 0, p["threads"])


def linear(inputs, classification):
    """Logistic regression for classes, ridge regression for numbers."""
    def model(p):
        return linear_model(p, classification)

    return Member(inputs["linear"], model, {
        "C": Param(1.0, low=1e-8, search=(1e-3, 100.0), log=True),  # inverse regularisation (ridge: alpha = 1/C)
        "threads": THREADS,
    })


def mlp(inputs, classification):
    """The Lightning MLP (pipelines/training/models/mlp.py) on imputed, scaled, one-hot inputs."""
    def model(p):
        from pipelines.training.models.mlp import MLPClassifier, MLPRegressor

        module_params = {k: p[k] for k in ("hidden", "dropout", "lr", "weight_decay")}
        if classification:
            module_params.update(n_classes=p["n_classes"], label_smoothing=p["label_smoothing"])
        return LightningEstimator(MLPClassifier if classification else MLPRegressor, module_params,
                                  batch_size=p["batch_size"], max_epochs=p["max_epochs"], threads=p["threads"])

    return Member(inputs["linear"], model, {
        "hidden": Param(128, low=1, search=(32, 512), log=True),
        "dropout": Param(0.3, low=0.0, high=0.95, search=(0.0, 0.6)),
        "lr": Param(3e-3, low=1e-6, high=10.0, search=(5e-4, 3e-2), log=True),
        "weight_decay": Param(1e-2, low=0.0, search=(1e-4, 1.0), log=True),
        "label_smoothing": Param(0.0, low=0.0, high=0.5),
        "batch_size": Param(256, low=1, search=(64, 1024), log=True),
        "max_epochs": Param(30, low=1, search=(10, 80)),
        "threads": THREADS,
    })


def extra_trees(inputs, classification):
    """Extremely randomised trees on imputed, scaled, one-hot inputs: unlike boosting, and so useful beside it."""
    def model(p):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        kind = ExtraTreesClassifier if classification else ExtraTreesRegressor
        return SklearnEstimator(kind(n_estimators=p["trees"], min_samples_leaf=p["min_samples_leaf"],
                                     max_features=p["max_features"], n_jobs=p["threads"], random_state=p["seed"]),
                                p["n_classes"], p["threads"])

    return Member(inputs["linear"], model, {
        "trees": Param(300, low=1, search=(100, 1000), log=True),
        "min_samples_leaf": Param(2, low=1, search=(1, 30), log=True),
        "max_features": Param(0.5, low=0.01, high=1.0, search=(0.1, 1.0)),
        "threads": THREADS,
    })


def knn(inputs, classification):
    """k nearest neighbours on the scaled inputs (weighted by distance): a model of another kind."""
    def model(p):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        kind = KNeighborsClassifier if classification else KNeighborsRegressor
        return SklearnEstimator(kind(n_neighbors=p["k"], weights="distance", n_jobs=p["threads"]),
                                p["n_classes"], p["threads"])

    return Member(inputs["linear"], model, {"k": Param(20, low=1, search=(3, 100), log=True), "threads": THREADS})


def logged(member):
    """The member for a regression target it learns as log1p(target) (when no target is negative),
    predicting back through expm1: for skewed positive targets (prices, counts) scored on raw values."""
    return lambda inputs, classification: member(inputs, classification, log_target=True)


LIBRARY = {"lgbm": lightgbm, "xgb": xgboost, "catboost": catboost, "linear": linear, "tfidf": tfidf, "minilm": minilm,
           "transformer": transformer, "mlp": mlp,
           "extra_trees": extra_trees, "knn": knn, "lgbm_log": logged(lightgbm), "catboost_log": logged(catboost)}
