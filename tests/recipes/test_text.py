"""Text in a table: free text found and read by the tf-idf member, the table's members left out where
there is only text, text beside other columns, and bad input."""
import json

import numpy as np
import pandas as pd
import pytest

from pipelines.core.devices import gpu_count
from pipelines.run import main as run_main
from tests.record.test_runs import fails, run_dirs
from tests.synthetic import SENTIMENT_WORDS, make_table, make_tweets

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
    assert "transformer left out: it is the default on a GPU only (slow on a CPU; --set models=... naming it runs " \
           "it)" in out or gpu_count()
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
    ("", "latin-1", [], "train.csv is not UTF-8 text (byte 0xe9 on line 3); save it as UTF-8, e.g. iconv -f latin1"),
])
def test_bad_text_input_is_one_clear_error(tmp_path, own_competitions, in_tmp, capsys, extra, change, argv, message):
    data = make_tweets(tmp_path / "tweets")
    if change == "latin-1":  # a café written by a tool that does not write UTF-8
        train = pd.read_csv(data / "train.csv")
        train.loc[1, "text"] = "the café was closed"
        train.to_csv(data / "train.csv", index=False, encoding="latin-1")
    elif change:
        train, test = change(pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv"))
        train.to_csv(data / "train.csv", index=False)
        test.to_csv(data / "test.csv", index=False)
    declare(own_competitions, extra)
    fails(run_main, ["sentiment", "--data-dir", str(data), "--submission", "s.csv", *argv], capsys, message)
    assert not (in_tmp / "s.csv").exists() and not (in_tmp / "runs").exists()


@pytest.mark.parametrize("member", ["tfidf", "transformer"])
def test_a_text_member_on_a_table_without_text_is_refused(member, tmp_path, own_competitions, in_tmp, capsys):
    data = make_table(tmp_path / "table", labels=(0, 1))
    (own_competitions / "table.py").write_text(
        'from pipelines.tabular import tabular_competition\n'
        'COMPETITION = tabular_competition(name="table", slug="table", id_column="id", target="target",\n'
        '                                  metric="accuracy")\n')
    fails(run_main, ["table", "--data-dir", str(data), "--set", f"models={member}", "--submission", "s.csv"], capsys,
          f"{member} cannot train on this data (the table has no text column")
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

    from features.sentences import SentenceEmbedding
    from pipelines.training.encoders import packaged_folder

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
    assert not (in_tmp / "runs").exists() and not (in_tmp / "s.csv").exists()  # refused before any run folder


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


def tiny_encoder(folder):
    """A two-layer, 32-wide BERT with all-MiniLM-L6-v2's tokenizer, randomly initialised: a Hugging Face
    model folder small enough to fine-tune in a test."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pipelines.training.encoders import packaged_folder

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_folder()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


TUNED = ["--set", "models=transformer", "--set", "transformer.lr=2e-3", "--set", "transformer.max_epochs=6",
         "--set", "transformer.batch_size=16", "--folds", "2", "--workers", "1"]


def test_a_fine_tuned_transformer_learns_and_its_run_predicts_without_the_model_folder(
        tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets", n_train=200, n_test=40)
    model = tiny_encoder(tmp_path / "tiny")
    declare(own_competitions)
    run_main(["sentiment", "--data-dir", str(data), "--submission", "s.csv", "--set", f"transformer.model={model}",
              *TUNED])
    [folder] = run_dirs(in_tmp, "sentiment")
    assert json.loads((folder / "metrics.json").read_text())["mean"] < 0.9  # a uniform guess scores log(3) = 1.10
    import shutil

    from pipelines.predict import main as predict_main

    shutil.rmtree(model)  # the checkpoints hold the weights, the encoder's configuration and the tokenizer
    predict_main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_a_fine_tuned_transformer_predicts_a_number(tmp_path, own_competitions, in_tmp, capsys):
    data = make_tweets(tmp_path / "tweets", n_train=200, n_test=40)
    for name in ("train.csv", "test.csv"):  # the score: how many of the positive words a tweet holds
        frame = pd.read_csv(data / name).drop(columns="sentiment", errors="ignore")
        if name == "train.csv":
            frame["score"] = frame.text.str.count("|".join(SENTIMENT_WORDS["positive"])).astype(float)
        frame.to_csv(data / name, index=False)
    pd.read_csv(data / "test.csv")[["id"]].assign(score=0.0).to_csv(data / "sample_submission.csv", index=False)
    (own_competitions / "scores.py").write_text(
        'from pipelines.tabular import tabular_competition\n'
        'COMPETITION = tabular_competition(name="scores", slug="scores", id_column="id", target="score", '
        'metric="rmse")\n')
    model = tiny_encoder(tmp_path / "tiny")
    run_main(["scores", "--data-dir", str(data), "--submission", "s.csv", "--set", f"transformer.model={model}",
              "--set", "transformer.max_length=18", *TUNED])
    from transformers import AutoTokenizer

    texts = [*pd.read_csv(data / "train.csv").text, *pd.read_csv(data / "test.csv").text]
    longer = sum(len(ids) > 18 for ids in AutoTokenizer.from_pretrained(str(model))(texts)["input_ids"])
    assert 0 < longer < len(texts)
    assert (f"transformer: {longer} of {len(texts)} texts are longer than 18 tokens: cut to their first 18 "
            "(a larger max_length keeps more, up to 64)") in capsys.readouterr().out.splitlines()
    [folder] = run_dirs(in_tmp, "scores")
    spread = pd.read_csv(data / "train.csv").score.std()
    assert json.loads((folder / "metrics.json").read_text())["mean"] < 0.8 * spread  # beats the mean
    assert pd.read_csv(in_tmp / "s.csv").score.between(-1, 10).all()


def test_layer_wise_rates_slow_each_lower_layer(tmp_path, monkeypatch):
    from pipelines.training.models.text import FineTunedText

    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    module = FineTunedText(n_classes=3, model=tiny_encoder(tmp_path / "tiny"), lr=1e-3, layer_decay=0.5,
                           total_steps=10)
    optimizer = module.configure_optimizers()["optimizer"]
    rate = {id(parameter): group["initial_lr"] for group in optimizer.param_groups for parameter in group["params"]}
    named = dict(module.named_parameters())
    assert rate[id(named["encoder.encoder.layer.1.output.dense.weight"])] == pytest.approx(1e-3)  # the top layer
    assert rate[id(named["encoder.encoder.layer.0.output.dense.weight"])] == pytest.approx(5e-4)
    assert rate[id(named["encoder.embeddings.word_embeddings.weight"])] == pytest.approx(2.5e-4)
    assert rate[id(named["head.weight"])] == pytest.approx(2e-2)  # head_lr_scale 20
    decay = {id(parameter): group["weight_decay"] for group in optimizer.param_groups for parameter in group["params"]}
    assert decay[id(named["encoder.encoder.layer.0.output.LayerNorm.weight"])] == 0.0
    assert decay[id(named["encoder.encoder.layer.0.output.dense.weight"])] == 0.01


def test_the_gbdts_read_lengths_and_tfidf_directions_of_the_text(tmp_path):
    from features.text import TextSummary

    frame = pd.read_csv(make_tweets(tmp_path / "tweets", extra_columns=True) / "train.csv")
    frame.loc[0, "text"] = None
    out = TextSummary(("text",), components=4, seed=0).fit(frame).transform(frame)
    assert list(out.columns) == [*frame.columns, "text_chars", "text_words", *(f"text_svd_{k}" for k in range(4))]
    assert out.text_chars[0] == 0 and out.text_words[1] == len(frame.text[1].split())
    again = TextSummary(("text",), components=4, seed=0).fit(frame).transform(frame)
    np.testing.assert_array_equal(again.filter(like="svd"), out.filter(like="svd"))  # the seed fixes the directions
    words = frame.text.fillna("").str.contains("|".join(SENTIMENT_WORDS["positive"]))
    best = max(abs(np.corrcoef(out[f"text_svd_{k}"], words)[0, 1]) for k in range(4))
    assert best > 0.3  # some direction follows the class words
