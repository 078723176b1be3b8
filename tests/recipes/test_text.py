"""Text in a table: free text found and read by the tf-idf member, the table's members left out where
there is only text, text beside other columns, and bad input."""
import json

import numpy as np
import pandas as pd
import pytest

from pipelines.run import main as run_main
from tests.record.test_runs import fails, run_dirs
from tests.synthetic import make_table, make_tweets

SENTIMENT = ('from pipelines.tabular import tabular_competition\n'
             'COMPETITION = tabular_competition(name="sentiment", slug="sentiment", id_column="id", target="sentiment",\n'
             '                                  metric="log_loss", submission="probabilities"{extra})\n')


def declare(folder, extra=""):
    (folder / "sentiment.py").write_text(SENTIMENT.format(extra=extra))


def test_a_table_of_text_alone_needs_nothing_declared(tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets")
    declare(own_competitions)
    run_main(["sentiment", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    out = capsys.readouterr().out.splitlines()
    assert "columns: 0 numbers (), 0 categories (), 1 text (text)" in out
    assert "lgbm left out: it reads numbers and categories, and the table has only text" in out
    [folder] = run_dirs(in_tmp, "sentiment")
    assert json.loads((folder / "config.json").read_text())["members"] == ["minilm", "tfidf"]
    assert json.loads((folder / "metrics.json").read_text())["mean"] < 0.6  # a uniform guess scores log(3) = 1.10
    submission = pd.read_csv(in_tmp / "s.csv")
    assert list(submission.columns) == ["id", "negative", "neutral", "positive"]
    np.testing.assert_allclose(submission.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-6)


def test_text_beside_other_columns_is_read_by_both_kinds_of_members(tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets", extra_columns=True)
    declare(own_competitions, ', members=("lgbm", "tfidf"), params={"lgbm.rounds": 50}')
    run_main(["sentiment", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    out = capsys.readouterr().out.splitlines()
    assert "columns: 1 numbers (followers), 0 categories (), 1 text (text)" in out
    [folder] = run_dirs(in_tmp, "sentiment")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["members"]) == {"lgbm", "tfidf"}
    assert metrics["members"]["tfidf"]["mean"] < metrics["members"]["lgbm"]["mean"]  # followers are noise


def test_a_declared_text_column_is_text_however_short(tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets")
    frame = pd.read_csv(data / "train.csv")
    frame["text"] = frame.text.str.split().str[1]  # one word a row: a category by default
    frame.to_csv(data / "train.csv", index=False)
    declare(own_competitions, ', text=("text",), members=("tfidf",)')
    run_main(["sentiment", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    assert "columns: 0 numbers (), 0 categories (), 1 text (text)" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("extra, change, argv, message", [
    ("", None, ["--set", "models=lgbm"],
     "--set models=lgbm: lgbm cannot train on this data (it reads numbers and categories, and the table has only "
     "text); choose others"),
    (', text=("review",)', None, [], "train.csv has no such column"),
    (', text=("text",)', lambda train, test: (train.assign(text=""), test), [], "text column 'text' is empty in"),
    (', text=("text",)', lambda train, test: (train, test.drop(columns="text")), [],
     "test.csv lacks column 'text'; train and test must have the same feature columns"),
])
def test_bad_text_input_is_one_clear_error(tmp_path, own_competitions, in_tmp, capsys, extra, change, argv, message):
    data = make_tweets(tmp_path / "tweets")
    if change:
        train, test = change(pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv"))
        train.to_csv(data / "train.csv", index=False)
        test.to_csv(data / "test.csv", index=False)
    declare(own_competitions, extra)
    fails(run_main, ["sentiment", "--data-dir", str(data), "--submission", "s.csv", *argv], capsys, message)
    assert not (in_tmp / "s.csv").exists() and not (in_tmp / "runs").exists()


def test_the_text_member_on_a_table_without_text_is_refused(tmp_path, own_competitions, in_tmp, capsys):
    data = make_table(tmp_path / "table", labels=(0, 1))
    (own_competitions / "table.py").write_text(
        'from pipelines.tabular import tabular_competition\n'
        'COMPETITION = tabular_competition(name="table", slug="table", id_column="id", target="target",\n'
        '                                  metric="accuracy")\n')
    fails(run_main, ["table", "--data-dir", str(data), "--set", "models=tfidf", "--submission", "s.csv"], capsys,
          "tfidf cannot train on this data (the table has no text column")
    assert not (in_tmp / "runs").exists()


def test_tuning_a_table_of_text_tunes_the_text_member(tmp_path, own_competitions, in_tmp, capsys):
    from pipelines.tune import main as tune_main

    data = make_tweets(tmp_path / "tweets", n_train=90, n_test=20)
    declare(own_competitions)
    tune_main(["sentiment", "--data-dir", str(data), "--trials", "2", "--folds", "2", "--workers", "1"])
    out = capsys.readouterr().out
    assert "tuning sentiment member minilm" in out and "lgbm left out" in out  # the first text member


def test_the_encoder_embeds_as_sentence_transformers_does_once_per_text(tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer

    from features.sentences import SentenceEmbedding, packaged_folder

    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    texts = np.array(["I love this airline!", "The flight was delayed for five hours, again, and nobody told us why.",
                      "ok", "gate " * 150, "Ünïcode façade — naïve café"], dtype=object)
    said = []
    mine = SentenceEmbedding().transform(texts, log=said.append)
    assert said[0] == "1 of 5 texts are longer than 128 tokens: cut to their first 128 (--set MEMBER.max_length=N " \
                      "keeps more, up to 512)"
    reference_model = SentenceTransformer(str(packaged_folder()), device="cpu")
    reference_model.max_seq_length = 128  # the member's max_length (the library's own is 256)
    reference = reference_model.encode(list(texts), normalize_embeddings=True)
    np.testing.assert_allclose(mine, reference, atol=2e-5)
    said.clear()
    np.testing.assert_array_equal(SentenceEmbedding().transform(texts[::-1], log=said.append), mine[::-1])
    assert not said  # every text was in the cache
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "other"))
    np.testing.assert_array_equal(SentenceEmbedding().transform(texts[1:2], log=said.append), mine[1:2])  # alone


def test_a_model_folder_without_weights_is_refused(tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets")
    folder = tmp_path / "deberta"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    declare(own_competitions, ', members=("minilm",)')
    fails(run_main, ["sentiment", "--data-dir", str(data), "--set", f"minilm.model={folder}", "--submission", "s.csv"],
          capsys, f"model={folder}: the folder has no weights (model.safetensors or pytorch_model.bin)")


def test_tfidf_features_save_their_vocabulary_as_arrays_and_load_the_same(tmp_path):
    from features.text import tfidf_features
    from pipelines.core.persist import load_object, save_object

    texts = pd.read_csv(make_tweets(tmp_path / "tweets") / "train.csv").text.to_numpy(dtype=object)
    features = tfidf_features(500, 1000, 1)
    before = features.fit_transform(texts)
    save_object(features, tmp_path / "features.skops")
    assert "builtins.dict" not in (tmp_path / "features.skops.types.json").read_text()
    loaded = load_object(tmp_path / "features.skops")
    assert (loaded.transform(texts) != before).nnz == 0
    assert loaded.transformer_list[0][1].vocabulary_ == features.transformer_list[0][1].vocabulary_
