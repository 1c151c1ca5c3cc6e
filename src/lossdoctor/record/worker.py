"""A background thread that finishes each flush, so that the training thread only hands a block over.

Packing a block (stacking a few thousand device scalars), turning it into named series, running the live
checks and committing to SQLite costs about a millisecond per 50 steps; on the training thread that
is 20–50 µs per step. Here it runs beside training: PyTorch releases the GIL inside its kernels, so on a
machine with a free core the training thread does not wait for it.

The queue holds at most `MAX_WAITING` blocks: if the disk is slower than training, `submit` waits rather
than letting memory grow. Jobs run in order, one at a time, and everything the store needs (its SQLite
connection included) is only touched from this thread.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable

#: Blocks waiting while one is being written; a training thread that gets further ahead waits.
MAX_WAITING = 2


class FlushWorker:
    """Runs submitted jobs in order on one daemon thread; a job's exception goes to `on_fault`."""

    def __init__(self, on_fault: Callable[[BaseException], None]) -> None:
        self._on_fault = on_fault
        self._error: BaseException | None = None  # what `on_fault` itself raised, for the caller's thread
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=MAX_WAITING)
        # a daemon: a recorder that is never closed must not keep the interpreter from exiting (the
        # recorder's atexit handler drains it first)
        self._thread = threading.Thread(target=self._loop, name="lossdoctor-flush", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._raise_pending()
        if self._thread.is_alive():
            self._jobs.put(job)
        else:  # never wait on a thread that is gone
            job()

    def drain(self) -> None:
        """Wait until every submitted job has finished."""
        if self._thread.is_alive():
            self._jobs.join()
        self._raise_pending()

    def _raise_pending(self) -> None:
        """Re-raise on the caller's thread what the fault handler raised (LOSSDOCTOR_STRICT in tests)."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def stop(self) -> None:
        """Finish the submitted jobs, then end the thread."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def cpu_seconds(self) -> float:
        """CPU time this thread has used so far (NaN where the platform cannot tell, or once it ended)."""
        ident = self._thread.ident
        if ident is None or not self._thread.is_alive() or not hasattr(time, "pthread_getcpuclockid"):
            return math.nan
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except OSError:
            return math.nan

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except BaseException as exc:  # reported; the thread goes on
                try:
                    self._on_fault(exc)
                except BaseException as again:
                    self._error = again
            finally:
                self._jobs.task_done()
