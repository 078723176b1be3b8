"""The run folder: resolved config, metrics, out-of-fold predictions, learning curves."""
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

from .files import atomic_path, write_text

RUNS_DIR = Path(os.environ.get("PIPELINES_RUNS_DIR", "runs"))


def new_run_dir(name, now=None):
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    path = RUNS_DIR / name / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def metrics_summary(result, seconds):
    return {
        "metric": result.metric_name,
        "folds": [{"fold": f.index, "score": f.score, "seconds": round(f.seconds, 2)} for f in result.folds],
        "mean": result.mean,
        "std": result.std,
        **({"seconds": round(seconds, 2)} if seconds is not None else {}),
    }


def plot_learning_curves(path, folds, title):
    """Train and valid loss per epoch, one colour per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for fold in folds:
        epochs = [e for e in fold.history if "train_loss" in e and "valid_loss" in e]
        if not epochs:
            continue
        x = [e["epoch"] + 1 for e in epochs]
        line, = axis.plot(x, [e["train_loss"] for e in epochs], linestyle="--", alpha=0.8)
        axis.plot(x, [e["valid_loss"] for e in epochs], color=line.get_color(), label=f"fold {fold.index}")
    axis.set(xlabel="epoch", ylabel="loss (dashed: train, solid: valid)", title=title)
    if axis.lines:
        axis.set_yscale("log")
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def format_score(mean, std):
    return f"{mean:.5f} ± {std:.5f}" if math.isfinite(std) else f"{mean:.5f}"
