"""Where a run's folds train: in this process, in local worker processes, or on a Dask cluster.

Every place runs the same function, pipelines.folds.run_fold, on the same task. Local workers are
loky processes (joblib's engine, the one scikit-learn uses): fresh interpreters, so no OpenMP or
CUDA state is inherited. Each takes a slot when it starts: its number, for progress lines, and
the GPU it owns when the machine has GPUs; its members run on cores // workers threads. A cluster
is a Dask distributed scheduler: folds go through the client's concurrent.futures executor, and
its workers read the data folder and write the run folder on a shared filesystem.
"""
import os
import uuid
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from . import devices, progress
from .errors import UserError

AUTO = "auto"


def workers_argument(text):
    """--workers: "auto" or a positive number (not given: PIPELINES_WORKERS, else auto)."""
    text = text or os.environ.get("PIPELINES_WORKERS") or AUTO
    if text == AUTO:
        return AUTO
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"--workers {text}: give a number of worker processes (1 or more) or auto")
    return count


def cpu_cores():
    """Cores this process may use (affinity and container limits counted)."""
    import joblib

    return max(1, joblib.cpu_count())


@dataclass(frozen=True)
class Workers:
    """How many tasks run at once and where: count 1 without a cluster runs them in this process."""

    count: int = 1
    threads: int = 1          # each member's threads when it declares 0 (auto)
    gpus: int = 0             # local GPUs, one owned by each worker (round robin beyond that)
    cluster: str | None = None

    @property
    def inline(self):
        return self.count == 1 and self.cluster is None

    def describe(self):
        if self.cluster:
            return f"{self.count} Dask worker thread{'s' if self.count > 1 else ''} at {self.cluster}"
        where = f", one GPU each of {self.gpus}" if self.gpus else f", {self.threads} thread{'s' if self.threads > 1 else ''} each"
        return f"{self.count} worker process{'es' if self.count > 1 else ''}{where}" if self.count > 1 else "this process"


def plan(requested, tasks, cluster=None, log=print):
    """Workers for `tasks` independent folds: `requested` (a number or auto: as many as the cores,
    or the GPUs when there are any, allow), never more than there are tasks."""
    if cluster:
        return Workers(count=cluster_threads(cluster), threads=1, cluster=cluster)
    cores, gpus = cpu_cores(), devices.gpu_count()
    if requested == AUTO:
        count = max(1, min(tasks, gpus or cores))
    else:
        count = requested
        if count > tasks:
            log(f"--workers {requested}: only {tasks} fold{'s' if tasks > 1 else ''} to train, so {tasks} worker"
                f"{'s' if tasks > 1 else ''}")
            count = tasks
    return Workers(count=count, threads=max(1, cores // count), gpus=gpus)


# --- local worker processes --------------------------------------------------------------------

def take_slot(slots, threads):
    """A local worker's start: its number and GPU (if any) for its whole life."""
    number, gpu = slots.get()
    progress.WORKER = f"worker {number}"
    devices.OWNED_GPU = gpu
    devices.THREADS = threads


def local_pool(workers):
    import loky
    from loky.backend.context import get_context

    slots = get_context("loky").Queue()
    for number in range(workers.count):
        slots.put((number + 1, number % workers.gpus if workers.gpus else None))
    threads = str(workers.threads)  # libraries that read these at import take the worker's share of cores
    env = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return loky.ProcessPoolExecutor(max_workers=workers.count, initializer=take_slot,
                                    initargs=(slots, workers.threads), env=env)


# --- a Dask cluster -----------------------------------------------------------------------------

_clients = {}


def cluster_client(address):
    """A client of the Dask scheduler at `address`, with at least one worker."""
    if address in _clients:
        return _clients[address]
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--cluster needs Dask's distributed package: pip install -e '.[cluster]'") from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise UserError(f"--cluster {address}: cannot reach a Dask scheduler there ({first_line(error)}); start one "
                        "with `dask scheduler` and give its tcp://HOST:PORT") from None
    try:
        client.wait_for_workers(1, timeout=30)
    except TimeoutError:
        client.close()
        raise UserError(f"--cluster {address}: the scheduler has no workers; start some with "
                        f"`dask worker {address} --nthreads 1`") from None
    _clients[address] = client
    return client


def cluster_threads(address):
    workers = cluster_client(address).scheduler_info(n_workers=-1)["workers"]
    return max(1, sum(worker.get("nthreads", 1) for worker in workers.values()))


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- running tasks ------------------------------------------------------------------------------

def run_all(function, tasks, workers, name=lambda task: "a task", on_failure=None):
    """Yield function(task) for every task as each finishes, on `workers` (not inline: the caller
    runs those itself). A worker that dies, or a task that fails, stops the rest; `on_failure(
    unfinished tasks)` names what was lost in the error (default: name(task) of each)."""
    if workers.cluster:
        executor = cluster_client(workers.cluster).get_executor(pure=False)
        pending = {executor.submit(function, task, key=f"{name(task).replace(' ', '-')}-{uuid.uuid4().hex[:8]}"): task
                   for task in tasks}
    else:
        executor = local_pool(workers)
        pending = {executor.submit(function, task): task for task in tasks}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                yield task_result(future, task, name, lambda: on_failure([task, *pending.values()]) if on_failure
                                  else None)
    finally:
        for future in pending:
            future.cancel()
        if workers.cluster:
            executor.shutdown(wait=False)
        else:
            executor.shutdown(wait=True, kill_workers=True)


def task_result(future, task, name, lost):
    """The task's result; a worker's death or a lost task becomes one UserError naming what was lost."""
    from loky.process_executor import TerminatedWorkerError

    try:
        return future.result()
    except UserError:
        raise
    except TerminatedWorkerError as error:
        codes = str(error).rsplit("exit codes of the workers are", 1)[-1].strip().split("\n")[0]
        raise UserError((lost() or f"a worker process died while running {name(task)}")
                        + f" (exit code {codes}: killed, or out of memory)") from None
    except Exception as error:
        if type(error).__name__ == "KilledWorker":  # Dask gave up after the workers running it died
            raise UserError((lost() or f"{name(task)} was lost") + ": the Dask workers running it died "
                            "(killed, or out of memory)") from None
        raise
