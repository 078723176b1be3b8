"""Where a run's tasks run: in this process, in local worker processes, or on a Dask cluster.

Every place runs the same function on the same task (pipelines.engine.folds.run_fold for a run). Local
workers are loky processes (joblib's engine, the one scikit-learn uses): fresh interpreters, so
no OpenMP or CUDA state is inherited. Each takes a slot when it starts: its number, for progress
lines, and the GPU it owns when the machine has GPUs (the only one it sees); its models run on
the cores shared as auto would share them. A cluster is a Dask distributed scheduler: tasks go
through the client's concurrent.futures executor, and its workers, checked before any work, read
the data folder and write the run folder on a shared filesystem.
"""
import asyncio
import atexit
import os
import re
import sys
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, CancelledError, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.core import devices
from pipelines.core.context import Context, settle
from pipelines.core.errors import UserError, first_line

AUTO = "auto"


def workers_argument(text, default=AUTO):
    """--workers: "auto" or a positive number (not given: PIPELINES_WORKERS, else `default`)."""
    text = text or os.environ.get("PIPELINES_WORKERS") or default
    if text == AUTO:
        return AUTO
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"--workers {text}: give a number of worker processes (1 or more) or auto")
    return count


def check_options(workers, cluster):
    """--workers and --cluster do not go together: the cluster's workers run the tasks."""
    if workers is not None and cluster:
        raise UserError(f"--workers {workers} with --cluster: the cluster's workers run the tasks; drop --workers")


def cpu_cores():
    """Cores this process may use (affinity and container limits counted)."""
    import joblib

    return max(1, joblib.cpu_count())


@dataclass(frozen=True)
class Workers:
    """How many tasks run at once and where: count 1 without a cluster runs them in this process."""

    count: int = 1
    threads: int = 1          # each model's threads when it leaves them to the run (declares 0)
    gpus: int = 0             # local GPUs, one owned by each worker (round robin when there are more workers)
    cluster: str | None = None

    @property
    def inline(self):
        return self.count == 1 and self.cluster is None

    def describe(self):
        if self.cluster:
            return f"{self.count} Dask worker{'s' if self.count > 1 else ''} at {self.cluster}"
        if self.count == 1:
            return f"this process, {self.threads} thread{'s' if self.threads > 1 else ''} a model"
        if self.gpus:
            share = "one GPU each" if self.count <= self.gpus else f"{self.gpus} GPUs shared in turn"
            return f"{self.count} worker processes, {share}"
        return f"{self.count} worker processes, {self.threads} thread{'s' if self.threads > 1 else ''} each"


def model_threads(folds, cores, gpus=0):
    """Threads of each model that leaves them to the run: the cores shared among the folds that can
    train side by side (one a GPU on a GPU machine). They follow the machine and the folds, never
    the members, --refit, --workers, or tune against run: XGBoost and CatBoost build slightly other
    trees on other thread counts, so whatever else changes, a seed's folds must not."""
    return max(1, cores // max(1, min(folds, gpus or cores)))


def plan(requested, tasks, cluster=None, threads=None, folds=None, log=print):
    """Workers for `tasks` independent tasks of a run with `folds` folds: `requested` (a number, or
    auto: as many as the GPUs, or as the cores allow at each model's threads), never more than there
    are tasks; `threads` (--threads) for each model that leaves them to the run, by default
    model_threads(folds). A cluster's workers run one single-threaded task each (--threads to change)."""
    if cluster:
        return Workers(count=len(cluster_client(cluster).nthreads()), threads=threads or 1, cluster=cluster)
    cores, gpus = cpu_cores(), devices.gpu_count()
    threads = threads or model_threads(folds or tasks, cores, gpus)
    auto = max(1, min(tasks, gpus or cores // threads))
    if requested == AUTO:
        count = auto
    else:
        count = requested
        if count > tasks:
            log(f"--workers {requested}: only {tasks} model{'s' if tasks > 1 else ''} to train, so {tasks} worker"
                f"{'s' if tasks > 1 else ''}")
            count = tasks
    return Workers(count=count, threads=threads, gpus=gpus)


# --- local worker processes --------------------------------------------------------------------

def take_slot(slots, threads):
    """A local worker's start: its number and GPU (if any) for its whole life, handed back when it
    exits, so a worker started in its place takes them over. The GPU is the only one it sees."""
    number, gpu = slots.get()
    atexit.register(slots.put, (number, gpu))
    if gpu is not None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = visible.split(",")[gpu] if visible else str(gpu)
    settle(Context(threads=threads, gpu=gpu, worker=f"worker {number}"))


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
    env["LOKY_MAX_MEMORY_LEAK_SIZE"] = os.environ.get("LOKY_MAX_MEMORY_LEAK_SIZE", str(10**15))
    executor = loky.ProcessPoolExecutor(max_workers=workers.count, initializer=take_slot,
                                        initargs=(slots, workers.threads), env=env)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, kill_workers=True)  # a failed run stops its other workers at once
        slots.close()
        slots.join_thread()


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
    except (OSError, TimeoutError, asyncio.TimeoutError, ValueError) as error:
        raise UserError(f"--cluster {address}: cannot reach a Dask scheduler there ({first_line(error)}); start one "
                        "with `dask scheduler` and give its tcp://HOST:PORT") from None
    try:
        client.wait_for_workers(1, timeout=30)
    except (TimeoutError, asyncio.TimeoutError):
        client.close()
        raise UserError(f"--cluster {address}: the scheduler has no workers; start some with "
                        f"`dask worker {address} --nthreads 1`") from None
    atexit.register(client.close)
    _clients[address] = client
    return client


def check_worker(competition, paths, digest):
    """On a Dask worker: what keeps it from running this command's tasks, or None."""
    import competitions as registry
    from pipelines.record.runfolder import code_digest

    try:
        registry.get(competition)
    except Exception as error:  # noqa: BLE001 - the worker reports, the command decides
        return f"cannot import competition {competition!r} ({first_line(error)}): install the project there " \
               "(and set PIPELINES_COMPETITIONS as here)"
    unseen = [path for path in paths if not Path(path).is_dir()]
    if unseen:
        return f"cannot see {unseen[0]}: every worker must reach the data and run folders at the same paths"
    if digest and code_digest(competition) != digest:
        return "runs other code than this command (another version of the project, or files changed since the " \
               "worker started): install the same version and restart the workers"
    return None


def check_cluster(address, competition, paths, digest):
    """Every worker of the cluster can run the tasks: one thread each, the competition importable,
    the data and run folders seen at the same paths, the same code. Checked before any work."""
    client = cluster_client(address)
    crowded = {worker: threads for worker, threads in client.nthreads().items() if threads > 1}
    if crowded:
        worker, threads = next(iter(crowded.items()))
        raise UserError(f"Dask worker {worker} runs {threads} tasks at once, which would share one process's "
                        f"random generators and threads; start workers with `dask worker {address} --nthreads 1` "
                        "(and --nworkers N for N per machine)")
    try:
        problems = client.run(check_worker, competition, [str(path) for path in paths], digest)
    except Exception as error:  # noqa: BLE001 - a worker that cannot even load this project
        raise UserError(f"--cluster {address}: a worker cannot run this project's code ({first_line(error)}); "
                        "install the same version of the project on every worker machine and restart the workers"
                        ) from None
    for worker, problem in sorted(problems.items()):
        if problem:
            raise UserError(f"Dask worker {worker} {problem}")
    warn_shared_gpus(client.run(worker_gpu))


def worker_gpu():
    """On a Dask worker: (its host, the GPU it trains on: the first it sees, or None without one)."""
    import socket

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    first = visible.split(",")[0].strip() if visible else "0"
    return socket.gethostname(), first if devices.gpu_count() else None


def warn_shared_gpus(gpus, log=print):
    """One line when Dask workers of one host would all train on the same GPU (plain `dask worker`s
    see every GPU and take the first): dask-cuda's workers each see their own first."""
    sharing = {}
    for worker, (host, gpu) in sorted(gpus.items()):
        if gpu is not None:
            sharing.setdefault((host, gpu), []).append(worker)
    for (host, gpu), workers in sharing.items():
        if len(workers) > 1:
            log(f"warning: {len(workers)} Dask workers on {host} would all train on its GPU {gpu}; start GPU workers "
                "with dask-cuda (`dask cuda worker SCHEDULER`), which gives each worker a GPU of its own")


# --- running tasks ------------------------------------------------------------------------------

def run_all(function, tasks, workers, name=lambda task: "a task", died=None, hint=""):
    """Yield function(task) for every task as each finishes, on `workers` (not inline: the caller
    runs those itself). A worker that dies, or a task that fails, stops the others and ends in one
    error: `died(tasks)` names the tasks whose worker is gone (asked the moment the first failure
    comes in, before the pool stops the rest), `hint` ends the message (how to resume)."""
    first_failure = FirstFailure(died, tasks)
    pool = cluster_pool(workers) if workers.cluster else local_pool(workers)
    with pool as executor:
        pending = {}
        for task in tasks:
            key = {"key": f"{name(task).replace(' ', '-')}-{uuid.uuid4().hex[:8]}"} if workers.cluster else {}
            future = executor.submit(function, task, **key)
            future.add_done_callback(first_failure)
            pending[future] = task
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    yield task_result(future, task, [task, *pending.values()], first_failure, name, hint)
        finally:  # the tasks not started are dropped: loky's pool stops its workers and drops them itself (a
            # future cancelled here first would make its shutdown raise in a thread: InvalidStateError)
            if workers.cluster:
                for future in pending:
                    future.cancel()


@contextmanager
def cluster_pool(workers):
    """The cluster's executor. After a failure the tasks not yet started are cancelled; one already
    running on a worker finishes its fold (Dask cannot stop it), and a fold it would write into a
    run folder that another command has since resumed is refused by the run's attempt token."""
    executor = cluster_client(workers.cluster).get_executor(pure=False)
    try:
        yield executor
    finally:
        executor.shutdown(wait=False)


class FirstFailure:
    """A done-callback that asks `died(tasks)` which tasks lost their worker, once, as the first task
    fails: it runs in the pool's own thread, before the pool stops the other workers (and with them
    what their worker.json files would tell). The consumer takes the answer with dead()."""

    def __init__(self, died, tasks):
        self.died, self.tasks, self.answer = died, tasks, None
        self.lock, self.answered = threading.Lock(), threading.Event()
        if died is None:  # nothing to ask: a dead worker is reported at once
            self.answered.set()

    def __call__(self, future):
        if future.cancelled() or future.exception() is None:
            return
        with self.lock:
            if not self.answered.is_set():
                self.answer = self.died(self.tasks)
                self.answered.set()

    def dead(self, timeout=10):
        """The tasks whose worker died, or None (the failed future's callbacks run just after it wakes
        the consumer: this waits for them)."""
        self.answered.wait(timeout=timeout)
        return self.answer


def task_result(future, task, unfinished, first_failure, name, hint):
    """The task's result; a worker's death becomes one UserError naming what it was running."""
    from loky.process_executor import TerminatedWorkerError

    try:
        return future.result()
    except UserError:
        raise
    except TerminatedWorkerError as error:
        signal = re.search(r"SIG[A-Z]+", str(error))
        cause = f"({signal.group() if signal else 'it exited'}: killed, or out of memory)"
        dead = first_failure.dead()
        what = (f"the worker training {', '.join(dead)} died {cause}" if dead
                else f"a worker process died {cause} while training {', '.join(name(task) for task in unfinished)}")
        raise UserError(what + hint) from None
    except dask_failures()[0]:  # Dask gave up on the task after the workers running it died
        raise UserError(f"{name(task)} was lost: the Dask workers running it died (killed, or out of memory)"
                        + hint) from None
    except (CancelledError, *dask_failures()[1]) as error:
        raise UserError(f"lost the Dask cluster while running {name(task)} "
                        f"({first_line(error) or type(error).__name__})" + hint) from None


def dask_failures():
    """(a task Dask gave up on, a lost connection): Dask's exception types once a cluster was used
    (before that, no error can be Dask's)."""
    if "distributed" not in sys.modules:
        return (), ()
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return (KilledWorker,), (CommClosedError,)
