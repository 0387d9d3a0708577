import fcntl
import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread per op, in the test processes and the commands they start (children inherit it):
# the suite already runs two test processes on two cores, and its whole runs start more; with
# TensorFlow's default of a thread per core, their spinning thread pools fought for the cores
# (2026-12-06, AMD EPYC, alone: 776 s wall and 1505 CPU-s -> 645 s and 1247 CPU-s). Read when
# TensorFlow starts, so before Keras is imported; an explicit setting wins.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """The built-in dataset, generated once per test session and shared by the xdist workers
    (the first to take the lock generates it, the others wait); tests read it (a test that
    needs other files makes its own folder)."""
    from kseg.data import ensure_builtin_dataset

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / "builtin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return ensure_builtin_dataset(str(shared / "builtin-shapes"))


@pytest.fixture(autouse=True)
def _seed_and_clear():
    keras.utils.set_random_seed(1234)
    yield
    # Without Keras's gc.collect(): a full collection of a heap holding TensorFlow took 0.6 s
    # a test (17% of the suite); Python's own collector still runs as objects accumulate.
    keras.backend.clear_session(free_memory=False)


# Whole training runs (subprocesses, several stages, several workers) take 20-60 s each.
# Started first, they overlap with the many short tests on the other xdist worker instead
# of leaving one worker alone at the end of the run.
LONG_RUNNING = (
    "tests/end_to_end/test_portability.py",  # one xdist group: two child processes training every architecture
    "tests/models/gan/test_adversarial.py::test_short_adversarial_run_on_builtin_data_learns",
    "tests/commands/test_fit.py::test_kill_and_resume",
    "tests/training/test_distribute.py::test_seggan_trains_alike",
    "tests/training/test_runner.py::test_two_stage_relationnet_run",
    "tests/end_to_end/test_reliability.py::test_a_diverged_run",
    "tests/commands/test_fit.py::test_short_run",
    "tests/training/test_run_dir.py::test_resume_refuses",
    "tests/serving/test_onnx.py::test_crf_in_the_onnx_graph",
    "tests/training/test_distribute.py::test_two_workers",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    # What is alive once the tests are collected (TensorFlow, Keras, kseg, the test modules)
    # lives as long as the process: frozen, Python's full collections stop rescanning it.
    # 224 tests (tests/layers, tests/losses, tests/models/pan, tests/serving/test_graph.py) in
    # one process, 2026-12-07, AVX2-only AMD EPYC: full collections 7.7 s -> 3.5 s of ~150 s.
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return next((i for i, prefix in enumerate(LONG_RUNNING) if item.nodeid.startswith(prefix)), len(LONG_RUNNING))

    items.sort(key=rank)  # stable: the rest keep their order
