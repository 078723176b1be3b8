import numpy as np
import pandas as pd

from features.tabular import Log1pSkewed, na_means_none_columns, tabular_preprocessor


def test_na_means_none_columns_read_from_description(house_dir):
    assert na_means_none_columns(house_dir / "data_description.txt") == ["GarageType", "PoolQC"]


def test_log1p_only_on_skewed_non_negative_columns():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.lognormal(0, 1.5, 500), rng.normal(0, 1, 500), -rng.lognormal(0, 1.5, 500)])
    skew_fix = Log1pSkewed(threshold=0.75).fit(X)
    assert skew_fix.skewed_.tolist() == [True, False, False]
    out = skew_fix.transform(X)
    np.testing.assert_allclose(out[:, 0], np.log1p(X[:, 0]))
    np.testing.assert_array_equal(out[:, 1:], X[:, 1:])


def test_preprocessor_fits_on_training_rows_and_tolerates_unseen_values():
    train = pd.DataFrame({
        "area": [100.0, 200.0, np.nan, 400.0],
        "garage": ["Attchd", None, "Detchd", "Attchd"],
        "zone": ["RL", "RM", "RL", None],
        "code": [20, 60, 20, 60],
    })
    test = pd.DataFrame({"area": [np.nan], "garage": ["BuiltIn"], "zone": [None], "code": [90]})
    pre = tabular_preprocessor(categorical=("code",), na_means_none=("garage",), skew_threshold=10)
    out_train = pre.fit_transform(train)
    out_test = pre.transform(test)
    names = list(pre.get_feature_names_out())
    # numeric: median of the training rows (200) imputed, then standardised with training stats
    area = out_test[0, names.index("numeric__area")]
    assert area == np.float64((200 - np.mean([100, 200, 200, 400])) / np.std([100, 200, 200, 400]))
    # NA means "no garage" -> its own category; unseen "BuiltIn" -> all zeros
    assert "none__garage_None" in names
    assert out_train[1, names.index("none__garage_None")] == 1
    assert all(out_test[0, names.index(n)] == 0 for n in names if n.startswith("none__garage"))
    # elsewhere a missing category takes the training mode; numeric codes are categories
    assert out_test[0, names.index("categorical__zone_RL")] == 1
    assert "categorical__code_20" in names
    assert np.isfinite(out_test).all()


def test_a_large_tables_one_hot_stays_sparse_with_the_same_values():
    from scipy.sparse import issparse

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "green", "blue"], 300),
                          "shop": rng.choice([f"s{i}" for i in range(40)], 300)})
    dense = tabular_preprocessor().fit(frame.iloc[:200])
    sparse = tabular_preprocessor(max_dense_cells=1000).fit(frame.iloc[:200])  # 200 rows x 44 columns: sparse
    assert not issparse(dense.transform(frame.iloc[200:]))
    assert issparse(sparse.transform(frame.iloc[200:])) and issparse(sparse.transform(frame.iloc[:5]))
    np.testing.assert_array_equal(sparse.transform(frame.iloc[200:]).toarray(), dense.transform(frame.iloc[200:]))
    assert list(sparse.get_feature_names_out()) == list(dense.get_feature_names_out())
