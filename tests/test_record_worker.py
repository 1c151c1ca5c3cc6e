"""The recorder's flush thread: jobs in order, faults reported without killing it, nothing ever hangs."""

from __future__ import annotations

import threading

import pytest

from lossdoctor.record.worker import MAX_WAITING, FlushWorker


def test_jobs_run_in_order_on_another_thread_and_drain_waits_for_them() -> None:
    done: list[tuple[int, str]] = []
    gate = threading.Event()
    worker = FlushWorker(on_fault=lambda exc: None)
    worker.submit(gate.wait)  # holds the thread until released
    for i in range(MAX_WAITING - 1):
        worker.submit(lambda i=i: done.append((i, threading.current_thread().name)))
    assert done == []
    gate.set()
    worker.drain()
    assert [i for i, _ in done] == list(range(MAX_WAITING - 1))
    assert all(name == "lossdoctor-flush" for _, name in done)
    worker.stop()
    assert not worker.alive


def test_a_failing_job_is_reported_and_the_next_job_still_runs() -> None:
    faults: list[BaseException] = []
    ran: list[int] = []
    worker = FlushWorker(on_fault=faults.append)
    worker.submit(lambda: 1 / 0)
    worker.submit(lambda: ran.append(1))
    worker.drain()
    assert [type(f) for f in faults] == [ZeroDivisionError] and ran == [1]
    worker.stop()


def test_an_error_of_the_fault_handler_reaches_the_callers_thread() -> None:
    """Under LOSSDOCTOR_STRICT the recorder's fault handler raises: that must surface, not vanish."""
    def strict(exc: BaseException) -> None:
        raise exc

    worker = FlushWorker(on_fault=strict)
    worker.submit(lambda: [][1])
    with pytest.raises(IndexError):
        worker.drain()
    ran: list[int] = []
    worker.submit(lambda: ran.append(1))  # the thread survived
    worker.drain()
    assert ran == [1]
    worker.stop()


def test_after_stop_jobs_run_in_place_instead_of_waiting_forever() -> None:
    worker = FlushWorker(on_fault=lambda exc: None)
    worker.stop()
    ran: list[str] = []
    worker.submit(lambda: ran.append(threading.current_thread().name))
    worker.drain()
    assert ran == [threading.current_thread().name]
