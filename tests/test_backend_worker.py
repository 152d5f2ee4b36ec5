"""kgen.backends.BackendWorker: one long-lived child runs many `python -c` jobs (the export checks of kgen.testing
send it theirs), each as a fresh `python -c` would run it, and a job that fails, kills the worker or hangs is reported
and leaves a working worker behind. The jobs here import nothing heavy, so the test costs no backend start."""

import subprocess

import pytest

from kgen.backends import BackendProcessError, BackendWorker


@pytest.fixture
def worker():
    w = BackendWorker("jax")
    yield w
    w.close()


def test_jobs_run_one_after_another_with_their_own_argv_and_globals(worker, tmp_path):
    code = ("import sys, os\n"
            "assert 'x' not in globals()\n"  # each job has globals of its own
            "x = 1\n"
            "open(sys.argv[1], 'w').write(os.environ['KERAS_BACKEND'] + ' ' + sys.argv[2])\n"
            "print('to stderr, not the replies')\n")
    worker.run(["-c", code, tmp_path / "a.txt", "one"])
    pid = worker._proc.pid
    worker.run(["-c", code, tmp_path / "b.txt", "two"])
    assert worker._proc.pid == pid, "the second job started another interpreter"
    assert (tmp_path / "a.txt").read_text() == "jax one" and (tmp_path / "b.txt").read_text() == "jax two"


@pytest.mark.parametrize("code, status, says", [
    ("raise ValueError('boom')", 1, "ValueError: boom"),
    ("import sys; sys.exit('no signature serve')", 1, "no signature serve"),
    ("import sys; print('last words', file=sys.stderr); sys.exit(3)", 3, "last words"),
])
def test_a_failing_job_is_an_error_with_its_message_and_the_worker_goes_on(worker, code, status, says):
    with pytest.raises(BackendProcessError, match="checking things in a worker process failed") as e:
        worker.run(["-c", code], what="checking things")
    assert e.value.returncode == status and says in str(e.value)
    worker.run(["-c", "import sys; sys.exit(0)"])   # exit status 0 is success


def test_a_job_that_kills_the_worker_or_hangs_is_reported_and_a_new_worker_starts(worker):
    worker.run(["-c", "pass"])
    with pytest.raises(BackendProcessError, match="the worker exited with code 7") as e:
        worker.run(["-c", "import os, sys; print('dying', file=sys.stderr, flush=True); os._exit(7)"])
    assert "dying" in str(e.value)
    worker.run(["-c", "pass"])
    with pytest.raises(subprocess.TimeoutExpired):
        worker.run(["-c", "import time; time.sleep(60)"], timeout=1)
    assert worker._proc is None, "a job past its timeout must take the worker with it"
    worker.run(["-c", "pass"])


def test_args_must_be_a_code_job(worker):
    with pytest.raises(ValueError, match="`args` must be"):
        worker.run(["-m", "kgen.export"])
