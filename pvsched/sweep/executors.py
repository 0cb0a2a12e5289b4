"""Where a sweep runs: serially, a local process pool, or Dask distributed; with a progress line."""
from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import uuid
from typing import Optional

from pvsched.sweep.cells import _execute
from pvsched.sweep.grid import SweepError


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class _Progress:
    def __init__(self, total: int, done: int, enabled: Optional[bool]):
        self.total, self.n = total, done
        if enabled is None:
            enabled = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.enabled = enabled and total > done
        self.bar = None
        self._last = 0.0
        if self.enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, initial=done, unit="run", desc="pvsched sweep", file=sys.stderr,
                                dynamic_ncols=True)
            except ImportError:
                self._print(force=True)

    def _print(self, force=False):
        now = time.monotonic()
        if force or now - self._last > 0.2 or self.n == self.total:
            self._last = now
            sys.stderr.write(f"\rpvsched sweep: {self.n}/{self.total} runs")
            sys.stderr.flush()

    def update(self):
        self.n += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
        else:
            self._print()

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# executors: a job is (cells, segments, metric spec), segments [(cell dict, seeds)] in cell order;
# on_done(cells, [metrics per segment]) gets a job's results together
# ---------------------------------------------------------------------------------------------
def _worker_init(parent_pid: int) -> None:
    """Pool worker set-up: leave Ctrl-C to the driver, die quietly when the pool terminates the
    worker (a forked worker inherits the driver's Python SIGTERM handler, e.g. the CLI's, which
    would raise inside the worker and print its traceback), and die with the driver (Linux
    PR_SET_PDEATHSIG) so a killed sweep leaves no orphan workers behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # pragma: no cover - best effort
            pass
        if os.getppid() != parent_pid:
            os._exit(0)


def _default_context():
    import multiprocessing as mp
    methods = mp.get_all_start_methods()
    # fork is fastest and lets workers see functions defined in __main__, but forking a process
    # that runs other threads can deadlock the child: use spawn then.
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _drive(pool, jobs, window: int, on_done) -> None:
    """Keep ``window`` jobs in flight on ``pool`` (a concurrent.futures executor) and hand each
    job's results to ``on_done`` as it finishes; on any failure the jobs not started are
    cancelled."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool
    it = iter(jobs)
    pending = {}
    try:
        def fill():
            while len(pending) < window:
                job = next(it, None)
                if job is None:
                    return
                cells, segments, spec = job
                pending[pool.submit(_execute, segments, spec)] = cells
        fill()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                cells = pending.pop(fut)
                try:
                    m = fut.result()
                except BrokenProcessPool:
                    raise SweepError("a worker process died (killed, or out of memory); the runs that "
                                     "finished are saved: run the same sweep again to resume") from None
                on_done(cells, m)
            fill()
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def _run_local(jobs, workers, mp_context, on_done):
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp
    ctx = mp.get_context(mp_context) if isinstance(mp_context, str) else (mp_context or _default_context())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))
    ok = False
    try:
        _drive(pool, jobs, 4 * workers, on_done)
        ok = True
    finally:
        if not ok:
            for p in list(getattr(pool, "_processes", {}).values() or []):
                if p.is_alive():
                    p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_executor(jobs, executor, workers: int, on_done):
    """On the caller's executor, which stays open (its workers are reused by the next sweep)."""
    _drive(executor, jobs, 4 * workers, on_done)


def _executor_workers(executor) -> int:
    """How many jobs an executor runs at once: its ``_max_workers`` (the standard library's
    process and thread pools), else the CPU count."""
    n = getattr(executor, "_max_workers", None)
    return n if isinstance(n, int) and n > 0 else (os.cpu_count() or 1)


def _run_dask(jobs, scheduler, on_done):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SweepError('the Dask executor needs dask.distributed: pip install "dask[distributed]"') from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=30) if own else scheduler
    except Exception as e:  # noqa: BLE001 - any failure to connect is the user's address or network
        raise SweepError(f"cannot use the Dask scheduler {scheduler!r}: {type(e).__name__}: "
                         f"{' '.join(str(e).split()) or 'no detail'}") from None
    futs = {}
    ok = False
    try:
        for cells, segments, spec in jobs:
            fut = client.submit(_execute, segments, spec, pure=False,
                                key=f"pvsched-runs-{cells[0].cell_id}-{len(cells)}-{uuid.uuid4().hex[:8]}")
            futs[fut] = cells
        for fut in as_completed(list(futs)):
            on_done(futs[fut], fut.result())
        ok = True
    finally:
        if not ok:
            client.cancel(list(futs))
        if own:
            client.close()


def _run_serial(jobs, on_done):
    for cells, segments, spec in jobs:
        on_done(cells, _execute(segments, pickle.loads(spec) if isinstance(spec, bytes) else spec))
