"""The default recipe for a tabular competition: a table with a label column and a metric.

    COMPETITION = tabular_competition(name="...", slug="...", id_column="id", target="label",
                                      metric="accuracy")

gives the loader (targets encoded or moved into the metric's model space), two features recipes
fitted per fold (engineered `features` steps first, then native categories for the GBDTs, or
imputation, scaling and one-hot for the linear model and the MLP), the members (LightGBM,
CatBoost, XGBoost, a linear model by default; any of pipelines/recipes/members.py or your own), a
stratified and/or grouped splitter, and the submission in the sample submission's form.
"""
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from features.sentences import SentenceEmbedding
from features.tabular import DropIdentifiers, NativeCategories, column_roles, tabular_preprocessor
from features.text import JoinedText, TextSummary, tfidf_features
from pipelines.core.data import class_order, load_tabular, read_csv
from pipelines.core.errors import UserError
from pipelines.engine.competition import Competition, Member
from pipelines.engine.metrics import metric as metric_named
from pipelines.engine.metrics import top_k, with_target_transform
from pipelines.engine.params import Param, as_declared
from pipelines.engine.splits import default_splitter
from pipelines.recipes.members import LIBRARY
from submissions.validate import check_finite, check_labels, check_probabilities, check_top_labels

# the text members where there is text, the table's where there are other columns (each left out, with a
# line saying why, where it has nothing to read)
DEFAULT_MEMBERS = ("lgbm", "catboost", "xgb", "linear", "minilm", "tfidf", "transformer")
# A regression scored on raw values also gets GBDTs that learn log1p(target) (when no target is
# negative): the blend or stack gives them weight where that scores better in CV (skewed prices).
LOG_TARGET_MEMBERS = ("lgbm_log", "catboost_log")
# decoded labels, the positive class's probability, one column a class; beside them top_k_form's "top3"
# (any K): the K most probable labels in one column, space-separated, the most probable first (MAP@K)
FORMS = ("label", "probability", "probabilities")


def top_k_form(form):
    """K of a "topK" submission form ("top3"), else None."""
    return int(form[3:]) if form.startswith("top") and form[3:].isdigit() and int(form[3:]) > 0 else None


def check_form(form, metric):
    """The submission form is one of FORMS and fits the metric (a decided metric writes labels)."""
    if form not in FORMS and top_k_form(form) is None:
        raise UserError(f"submission={form!r}: choose one of label, probability, probabilities, top3 (any K)")
    if form != "label" and metric.classification and metric.decision is not None:
        raise UserError(f"submission={form!r} does not go with metric={metric.name!r}: it scores the labels "
                         "a fitted decision rule gives; use submission='label'")
    if form != "label" and not metric.classification:
        raise UserError(f"submission={form!r} is for classes; metric={metric.name!r} scores numbers: leave "
                         "submission out")


def default_members(metric):
    raw_regression = metric.task == "regression" and metric.to_model is None
    return DEFAULT_MEMBERS + (LOG_TARGET_MEMBERS if raw_regression else ())


def tree_inputs(steps, text=()):
    """Engineered steps, then numbers read from the free text (its lengths and `text_components` tf-idf
    directions, features.text.TextSummary), identifiers and free text dropped (data.info["columns"]) and
    text columns as pandas categories."""
    def features(data, params):
        columns = tuple(text) or tuple((data.info.get("columns") or {}).get("text", ()))
        summary = [TextSummary(columns, params["text_components"], params["seed"])] if columns else []
        return make_pipeline(*[clone(step) for step in steps], *summary, DropIdentifiers(data.info.get("columns")),
                             NativeCategories())

    return features


def text_inputs(steps, text=()):
    """Engineered steps, then the text columns (`text`, else those found when the data loaded) joined per
    row, as the tf-idf of word and character n-grams (the member's `words`, `characters`, `min_df`)."""
    def features(data, params):
        columns = tuple(text) or tuple(data.info["columns"]["text"])
        return make_pipeline(*[clone(step) for step in steps], JoinedText(columns),
                             tfidf_features(params["words"], params["characters"], params["min_df"]))

    return features


def check_text_columns(text, data, data_dir):
    """The declared text columns are in train.csv, with some text (load_tabular checks test.csv has them)."""
    for column in text:
        if column not in data.X.columns:
            raise UserError(f"text={column!r}: {data_dir / 'train.csv'} has no such column; name one of "
                            f"{', '.join(map(str, data.X.columns[:8]))}")
        if data.X[column].isna().all() or not data.X[column].astype(str).str.strip().any():
            raise UserError(f"text column {column!r} is empty in {data_dir / 'train.csv'}; name a column that holds "
                            "text, or drop it from text=")


def raw_text_inputs(steps, text=()):
    """Engineered steps, then the text columns joined per row: the texts, for a member that tokenises them."""
    def features(data, params):
        return make_pipeline(*[clone(step) for step in steps], JoinedText(tuple(text) or tuple(data.info["columns"]["text"])))

    return features


def sentence_inputs(steps, text=()):
    """Engineered steps, then the text columns joined per row, embedded by the member's frozen sentence
    encoder (`model`, `max_length`)."""
    def features(data, params):
        columns = tuple(text) or tuple(data.info["columns"]["text"])
        return make_pipeline(*[clone(step) for step in steps], JoinedText(columns),
                             SentenceEmbedding(params["model"], params["max_length"]))

    return features


def has_text(data):
    """None when the table has a text column, else why a text member cannot train on it."""
    roles = data.info.get("columns") or {}
    return None if roles.get("text") else "the table has no text column (free text, or one declared with text=)"


def table_needs(steps):
    """needs() of the table's members: a number or category column beside the text, or feature steps."""
    def needs(data):
        roles = data.info.get("columns") or {}
        if steps or roles.get("number") or roles.get("category"):
            return None
        return "it reads numbers and categories, and the table has only text"

    return needs


def linear_inputs(steps, categorical=()):
    """Engineered steps, then identifiers and free text dropped, numbers imputed, log1p'd where skewed and
    standardised, categories one-hot encoded (`categorical` names numeric columns that are codes)."""
    def features(data, params):
        return make_pipeline(*[clone(step) for step in steps], DropIdentifiers(data.info.get("columns")),
                             tabular_preprocessor(categorical=categorical, skew_threshold=params["skew_threshold"]))

    return features


def with_defaults(members, values):
    """Members whose parameters named "member.name" in `values` default to those values (ranges kept)."""
    members = dict(members)
    for key, value in values.items():
        name, _, short = key.partition(".")
        if name not in members or short not in members[name].params:
            raise ValueError(f"params: {key!r} names no parameter of the members ({', '.join(members)})")
        declared = as_declared(members[name].params)
        members[name] = replace(members[name], params={**declared, short: replace(declared[short], default=value)})
    return members


def declared_members(members, build, library, params=None):
    """name -> Member from `members` (names, built by `build(name)`, or a dict of name -> such a name or
    a Member), with the new defaults that `params` gives as "member.name" (ranges kept)."""
    chosen = members if isinstance(members, dict) else {name: name for name in members}
    built = {name: build(spec) if isinstance(spec, str) else spec for name, spec in chosen.items()}
    if not all(isinstance(member, Member) for member in built.values()):
        raise ValueError(f"members: give names from {library} or Member objects")
    return with_defaults(built, {key: value for key, value in (params or {}).items() if "." in key})


def tabular_submission(id_column, target, metric, form, positive):
    def submission(ids, predictions, classes):
        frame = pd.DataFrame({id_column: ids})
        if metric.columns:  # a column per target: its numbers, or its positive probability
            values = metric.model_to_target(np.asarray(predictions, dtype=np.float64))
            for column, name in enumerate(target):
                frame[name] = values[:, column]
        elif not metric.classification:
            frame[target] = metric.model_to_target(np.asarray(predictions, dtype=np.float64))
        elif form == "label":
            frame[target] = pd.Series([classes[k] for k in np.argmax(predictions, axis=1)], dtype=object)
        elif top_k_form(form):
            names = np.array([str(name) for name in classes], dtype=object)
            frame[target] = [" ".join(row) for row in names[top_k(predictions, top_k_form(form))]]
        elif form == "probability":
            frame[target] = np.asarray(predictions)[:, positive_index(classes, positive)]
        else:  # rows summing to 1 exactly where rounding left them off by a little (a blend's); others fail the check
            probabilities = np.array(predictions, dtype=np.float64)
            sums = probabilities.sum(axis=1, keepdims=True)
            probabilities = np.where(np.abs(sums - 1) < 1e-6, probabilities / sums, probabilities)
            columns = pd.DataFrame(probabilities, columns=[str(name) for name in classes])
            frame = pd.concat([frame, columns], axis=1)
        return frame

    return submission


def positive_index(classes, positive):
    """The column of the positive class (compared as text, as the file holds labels: positive=1 is
    the class 1); the last class without one."""
    return -1 if positive is None else [str(name) for name in classes].index(str(positive))


def check_classes(classes, form, positive, sample, target, where, metric=None):
    """The submission form and the metric fit the classes, checked when the data loads rather than after
    training."""
    if metric is not None and metric.binary and len(classes) != 2:
        raise UserError(f"metric={metric.name!r} scores two classes; {target!r} in {where} has {len(classes)} "
                        f"({', '.join(map(str, classes[:6]))}): choose macro_f1, accuracy or log_loss")
    if metric is not None and metric.binary and positive is not None and str(positive) != str(classes[-1]):
        raise UserError(f"metric={metric.name!r} takes the last class ({classes[-1]!r}) as positive; positive="
                        f"{positive!r} is another: leave positive out, or recode {target!r} so it sorts last")
    if top_k_form(form) and top_k_form(form) > len(classes):
        raise UserError(f"submission={form!r} writes {top_k_form(form)} labels a row, but {target!r} in {where} has "
                        f"{len(classes)} classes: choose top{len(classes)} or fewer")
    if form == "probability" and positive is not None and str(positive) not in map(str, classes):
        raise UserError(f"positive={positive!r} is not a class of {target!r} in {where}; choose one of "
                        f"{', '.join(map(str, classes))}")
    if form == "probability" and len(classes) != 2:
        raise UserError(f"submission='probability' is for two classes; {target!r} in {where} has {len(classes)}: "
                        "use submission='probabilities' (a column per class) or 'label'")
    if form == "probabilities":
        columns, names = [str(c) for c in sample.columns[1:]], [str(c) for c in classes]
        if sorted(columns) == sorted(f"{target}_{name}" for name in names):  # Kaggle's Status_C, Status_CL, ...
            return
        if sorted(columns) != sorted(names):
            missing = [name for name in names if name not in columns]
            extra = [column for column in columns if column not in names]
            what = (f"has no column for class {missing[0]!r}" if missing
                    else f"has column {extra[0]!r}, which is not a class of {target!r}")
            raise UserError(f"the sample submission {what}; submission='probabilities' writes one column per class "
                            f"({', '.join(names[:6])}{'...' if len(names) > 6 else ''})")


def tabular_check(metric, form):
    def check(frame, source, classes=None):
        if metric.task == "labels":
            check_probabilities(frame, source, sums_to_one=False)
        elif not metric.classification:
            check_finite(frame, source, minimum=metric.floor)
        elif form == "label":
            check_labels(frame, source, classes)
        elif top_k_form(form):
            check_top_labels(frame, source, classes, top_k_form(form))
        else:
            check_probabilities(frame, source, sums_to_one=form == "probabilities")

    return check


def check_targets(target, metric):
    """`target` as the recipe holds it: one column's name, or a tuple of several for a metric that scores
    several columns (mcrmse, mean_auc)."""
    several = not isinstance(target, str) and len(target) > 1
    if several and not metric.columns:
        raise UserError(f"target={tuple(target)!r} names several columns; metric={metric.name!r} scores one: choose "
                        "mcrmse (numbers) or mean_auc (binary labels)")
    if metric.columns and not several:
        raise UserError(f"metric={metric.name!r} scores several target columns; name them, "
                        "target=(\"a\", \"b\", ...), or choose a metric for one")
    return tuple(target) if several else (target if isinstance(target, str) else target[0])


def per_target(member, n_targets, labels):
    """`member` with one model per target column (pipelines.training.estimator.PerTarget); for binary
    `labels`, each a classifier of two classes predicting its positive probability."""
    from pipelines.training.estimator import PerTarget

    def model(p):
        view = {**p, "n_classes": 2} if labels else p
        return PerTarget([member.model(view) for _ in range(n_targets)], positive=labels)

    return replace(member, model=model)


def tabular_competition(name, slug, id_column, target, metric, submission="label", features=(), groups=None,
                        members=None, params=None, presets=None, positive=None, keep_id=False,
                        categorical=(), exclude_from_training=None, sample_submission="sample_submission.csv",
                        target_transform=None, text=(), extra_train=(), extra_flag=None, description=""):
    """A Competition for Kaggle's tabular layout (train.csv, test.csv, sample_submission.csv).

    metric: a name from pipelines/engine/metrics.py; submission: "label", "probability" (binary: the
    `positive` class's, default the last class) or "probabilities" (a column per class);
    features: transformer steps fitted per fold ahead of the generic preprocessing (keep_id=True
    gives them the id column); groups(dataset) -> a group per training row; members: names from
    pipelines/recipes/members.py (LIBRARY), or a dict of name -> such a name or a Member of your own
    (default: default_members(metric));
    params: shared parameters (name -> Param), and new defaults for members' ("lgbm.num_leaves": 24);
    sample_submission: the sample file's name; target_transform: "log1p" or "log" for regression
    scored on raw values (members learn the transformed target, predictions come back through its
    inverse); text: columns of free text for the text members (default: those found, which are mostly
    unique with a median of 25 characters and 4 words); extra_train: CSVs of more training rows with
    train.csv's columns (a playground's original data; the id column optional) that train every fold and
    are never validated, so the CV scores only the competition's rows; extra_flag: a column added as 1 on
    those rows and 0 on the others."""
    metric = with_target_transform(metric_named(metric) if isinstance(metric, str) else metric, target_transform)
    check_form(submission, metric)
    target = check_targets(target, metric)
    text = (text,) if isinstance(text, str) else tuple(text)
    extra_train = (extra_train,) if isinstance(extra_train, str) else tuple(extra_train)
    inputs = {"trees": tree_inputs(tuple(features), text), "linear": linear_inputs(tuple(features), categorical),
              "text": text_inputs(tuple(features), text), "sentences": sentence_inputs(tuple(features), text),
              "raw_text": raw_text_inputs(tuple(features), text)}
    members = default_members(metric) if members is None else members
    built = declared_members(members, lambda spec: LIBRARY[spec](inputs, metric.classification or
                                                                  metric.task == "labels"),
                             "pipelines/recipes/members.py", params)
    if metric.columns:
        built = {name: per_target(member, len(target), metric.task == "labels") for name, member in built.items()}
    needs = {inputs["text"]: has_text, inputs["sentences"]: has_text, inputs["raw_text"]: has_text,
             inputs["trees"]: table_needs(features),
             inputs["linear"]: table_needs(features)}
    built = {name: member if member.needs or member.features not in needs else replace(member, needs=needs[member.features])
             for name, member in built.items()}
    shared = {key: value for key, value in (params or {}).items() if "." not in key}

    def load(data_dir, params=None, train=True):
        data = load_tabular(data_dir, id_column, target, metric, sample=sample_submission, read_train=train,
                            keep_id=keep_id, extra_train=extra_train, extra_flag=extra_flag)
        if train and metric.classification:
            check_classes(data.info["classes"], submission, positive, data.sample, target, data_dir / "train.csv",
                          metric)
        if train:
            check_text_columns(text, data, data_dir)
            roles = data.info["columns"] = column_roles(data.X, data.X_test, text)
            if not (roles["number"] or roles["category"] or roles["text"] or features):
                dropped = "; ".join(f"{column}: {why}" for column, why in list(roles["dropped"].items())[:3])
                raise UserError(f"{data_dir / 'train.csv'}: every feature column is dropped ({dropped}), so there "
                                "is nothing to train on; declare features= steps that turn them into numbers")
        return data

    def classes(data_dir):
        return class_order(read_csv(data_dir / "train.csv", [target], text=[target])[target].dropna())

    stacked = {} if metric.columns else {"stack": True}  # a second level over several targets is not built

    return Competition(
        name=name, slug=slug, metric=metric, load=load, members=built,
        params={"skew_threshold": Param(0.75, low=0.0),
                "text_components": Param(16, low=0, high=512),  # tf-idf directions of the text for the GBDTs
                **stacked,  # "stack": a second level beside the blend (competitions that do not declare it only blend)
                **shared},
        splitter=default_splitter(metric.classification, groups is not None), groups=groups,
        submission=tabular_submission(id_column, target, metric, submission, positive),
        check_submission=tabular_check(metric, submission), classes=classes if metric.classification else None,
        exclude_from_training=exclude_from_training, presets=presets or {}, description=description,
        files=("train.csv", "test.csv", sample_submission), sample_submission=sample_submission,
        monitor="valid_loss",
    )

