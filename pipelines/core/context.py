"""The context a process runs folds in: its share of the cores, the GPU it owns, the cache of
decoded images and embeddings, its name in progress lines, and the run's attempt.

One frozen object in place of settings spread over modules. A local worker builds its own once,
from the slot it takes when it starts (number, GPU); each fold task then runs in that context
completed by the task (cache, attempt), made active for the task's run only, so what a
process ran before never changes what it runs next. The engine passes it down by hand; code that
runs inside a competition's own steps (the image cache, the Trainer's devices, progress bars)
reads the active one, as Python's decimal module does with its local context.
"""
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path


def cache_from_environment():
    """The decode-once image and embedding cache: PIPELINES_CACHE_DIR, else cache/ here."""
    return Path(os.environ.get("PIPELINES_CACHE_DIR", "cache")).resolve()


@dataclass(frozen=True)
class Context:
    threads: int | None = None    # a local worker's share of the cores, for a model that leaves its threads to
                                  # the run (None: torch decides)
    gpu: int | None = None        # the GPU this worker owns, by its index among the command's GPUs
    cache_dir: Path = field(default_factory=cache_from_environment)
    worker: str | None = None     # this process's name in progress lines ("worker 2", a Dask address)
    attempt: str | None = None    # the command's attempt at the run: a resumed run's new one stops stale tasks

    def completed(self, cache_dir=None, attempt=None, worker=None):
        """This context with what a task brings (those given): the command's cache, for a worker that
        runs in a folder of its own; the run's attempt; a name, for a process not named yet."""
        return replace(self, cache_dir=Path(cache_dir) if cache_dir else self.cache_dir,
                       attempt=attempt or self.attempt, worker=self.worker or worker)


_process = ContextVar("pipelines_context")


def current():
    """The active context: the task's while one runs, else this process's (a local worker's slot, or
    the defaults: the environment's cache, no GPU owned, torch's threads)."""
    return _process.get(None) or Context()


def settle(context):
    """This process's context for its whole life: a local worker's, set when it starts."""
    _process.set(context)


@contextmanager
def active(context):
    """`context` active for the code inside, the one before restored after."""
    token = _process.set(context)
    try:
        yield context
    finally:
        _process.reset(token)
