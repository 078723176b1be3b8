"""Progress lines, printed by whichever process does the work: this one, a worker of the local
pool (its output goes to the same terminal or log), or a Dask worker (forwarded to the client)."""
import sys
import time

from pipelines.core.context import current


def dask_worker():
    """The Dask worker this code runs on, or None."""
    if "distributed" not in sys.modules:
        return None
    import distributed

    try:
        return distributed.get_worker()
    except ValueError:
        return None


def worker_name():
    """This process's name as a worker: its number in the local pool, its Dask address, or None."""
    if current().worker is not None:
        return current().worker
    worker = dask_worker()
    return None if worker is None else f"worker {worker.address}"


def say(line):
    if dask_worker() is not None:
        import distributed

        distributed.print(line, flush=True)  # forwarded to the client that submitted the task
    else:
        print(line, flush=True)


def interactive():
    """A progress bar only for work in the command's own process on a terminal: workers share it."""
    return worker_name() is None and sys.stderr.isatty()


class Throttle:
    """True at most once every `seconds`: a long fold prints its epochs, a fast one stays quiet."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.last = time.monotonic()

    def __call__(self):
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


class Pass:
    """Progress of a long pass over items (decoding images, embedding them): a bar on a terminal
    (tqdm), else a line at most every `every` seconds with the items done, their rate and the time
    left, so a log of a cold run is never silent for long."""

    def __init__(self, what, total, unit="images", every=30.0):
        self.what, self.total, self.unit, self.done = what, total, unit, 0
        self.started = time.monotonic()
        self.throttle = Throttle(every)
        self.bar = None
        if interactive():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=what, unit=unit.rstrip("s") or "item", leave=False)

    def update(self, count):
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.throttle() and self.done < self.total:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate else 0.0
            say(f"{self.what}: {self.done}/{self.total} {self.unit}, {rate:.1f} {self.unit}/s, "
                f"{duration(left)} left")

    def close(self):
        if self.bar is not None:
            self.bar.close()
