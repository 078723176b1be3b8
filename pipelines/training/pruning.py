"""Reporting a trial's progress to Optuna so hopeless trials stop early.

How pruning fits K-fold: the first fold reports its validation curve epoch by epoch
(steps 0..max_epochs-1, pipelines.training.trainer.EpochPruning, for Lightning members); after every
fold the running mean of the finished folds' scores is reported at step FOLD_STEP + fold.
Every trial uses the same splits, so both are compared like with like: a trial is stopped
inside fold 0 when its curve is worse than the median of earlier trials at that epoch, or
between folds when its running mean is.
"""
import optuna

FOLD_STEP = 100_000  # far above any epoch count, so fold steps never meet epoch steps


def monitor_direction(monitor):
    """Which way a logged value improves: losses and errors go down, accuracies and scores up."""
    return "minimize" if any(word in monitor.lower() for word in ("loss", "error", "rmse", "mae")) else "maximize"


def epoch_pruning(trial, monitor, direction):
    """The Lightning callback that reports fold 0's epochs to a study that goes in `direction`
    (Lightning is imported only here); the value is negated when the two directions disagree."""
    from pipelines.training.trainer import EpochPruning

    return EpochPruning(trial, monitor, sign=1.0 if monitor_direction(monitor) == direction else -1.0)


class FoldPruning:
    """on_fold hook: reports the running mean of fold scores and prunes between folds (never after
    the last: a trial that finished every fold is complete, whatever the median says)."""

    def __init__(self, trial, folds):
        self.trial = trial
        self.folds = folds
        self.scores = []

    def __call__(self, fold):
        self.scores.append(fold.score)
        self.trial.report(sum(self.scores) / len(self.scores), step=FOLD_STEP + fold.index)
        if fold.index < self.folds - 1 and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold.index}")
