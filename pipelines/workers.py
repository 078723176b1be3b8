"""Where a run's folds train: in this process, in local worker processes, or on a Dask cluster.

Every place runs the same function, pipelines.folds.run_fold, on the same task. Local workers are
loky processes (joblib's engine, the one scikit-learn uses): fresh interpreters, so no OpenMP or
CUDA state is inherited. Each takes a slot when it starts: its number, for progress lines, and
the GPU it owns when the machine has GPUs; its members run on cores // workers threads. A cluster
is a Dask distributed scheduler: folds go through the client's concurrent.futures executor, and
its workers read the data folder and write the run folder on a shared filesystem.
"""
import atexit
import os
import re
import uuid
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager
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


def plan(requested, tasks, cluster=None, threads=None, log=print):
    """Workers for `tasks` independent (member, fold) pairs: `requested` (a number or auto: as many as
    the cores, or the GPUs when there are any, allow), never more than there are tasks; `threads`
    for each member that declares 0 (default: the cores shared among the workers; 1 on a cluster,
    whose workers run one task per core)."""
    if cluster:
        return Workers(count=cluster_threads(cluster), threads=threads or 1, cluster=cluster)
    cores, gpus = cpu_cores(), devices.gpu_count()
    if requested == AUTO:
        count = max(1, min(tasks, gpus or cores))
    else:
        count = requested
        if count > tasks:
            log(f"--workers {requested}: only {tasks} model{'s' if tasks > 1 else ''} to train, so {tasks} worker"
                f"{'s' if tasks > 1 else ''}")
            count = tasks
    return Workers(count=count, threads=threads or max(1, cores // count), gpus=gpus)


# --- local worker processes --------------------------------------------------------------------

def take_slot(slots, threads):
    """A local worker's start: its number and GPU (if any) for its whole life, handed back when it
    exits, so a worker started in its place takes them over."""
    number, gpu = slots.get()
    atexit.register(slots.put, (number, gpu))
    progress.WORKER = f"worker {number}"
    devices.OWNED_GPU = gpu
    devices.THREADS = threads


@contextmanager
def local_pool(workers):
    """A loky process pool whose workers each take a slot (number, GPU) as they start."""
    import loky
    from loky.backend.context import get_context

    slots = get_context("loky").Queue()
    for number in range(workers.count):
        slots.put((number + 1, number % workers.gpus if workers.gpus else None))
    threads = str(workers.threads)  # libraries that read these at import take the worker's share of cores
    env = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    # loky restarts a worker that grew by 300 MB, taking it for a leak; loading torch and a fold's data
    # grows a worker that much on purpose, and a restart would import everything again
    os.environ.setdefault("LOKY_MAX_MEMORY_LEAK_SIZE", str(10**15))
    executor = loky.ProcessPoolExecutor(max_workers=workers.count, initializer=take_slot,
                                        initargs=(slots, workers.threads), env=env)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, kill_workers=True)  # a failed run stops its other workers at once
        slots.close()
        slots.join_thread()


@contextmanager
def cluster_executor(workers):
    executor = cluster_client(workers.cluster).get_executor(pure=False)
    try:
        yield executor
    finally:
        executor.shutdown(wait=False)


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
    unfinished tasks, cause)` words the error (default: the cause and name(task))."""
    with (cluster_executor(workers) if workers.cluster else local_pool(workers)) as executor:
        if workers.cluster:
            pending = {executor.submit(function, task, key=f"{name(task).replace(' ', '-')}-{uuid.uuid4().hex[:8]}"):
                       task for task in tasks}
        else:
            pending = {executor.submit(function, task): task for task in tasks}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    unfinished = [task, *pending.values()]
                    lost = on_failure or (lambda _, cause: f"{cause} while running {name(task)}")
                    yield task_result(future, lambda cause: lost(unfinished, cause))
        finally:
            for future in pending:
                future.cancel()


def task_result(future, lost):
    """The task's result; a worker's death becomes one UserError, worded by lost(cause)."""
    from loky.process_executor import TerminatedWorkerError

    try:
        return future.result()
    except UserError:
        raise
    except TerminatedWorkerError as error:
        signal = re.search(r"SIG[A-Z]+", str(error))
        raise UserError(lost(f"a worker process died ({signal.group() if signal else 'it exited'}: killed, or out "
                             "of memory)")) from None
    except Exception as error:
        if type(error).__name__ == "KilledWorker":  # Dask gave up after the workers running it died
            raise UserError(lost("the Dask workers running it died (killed, or out of memory)")) from None
        raise
