"""Run progress (kseg/training/progress.py) in the run's steps: a plain line a chunk or interval in
a log, one redrawn line on a terminal."""

import io

import keras
import numpy as np

from kseg.training.progress import RunProgress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit_in_chunks(stream, total=6, chunk=3, done=0, steps_per_execution=1):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=steps_per_execution)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(done)
    x, y = np.ones((chunk, 2), "float32"), np.zeros((chunk, 1), "float32")
    progress = RunProgress(total, stream=stream)
    first_epoch = done // chunk
    model.fit(x, y, batch_size=1, epochs=total // chunk, initial_epoch=first_epoch, verbose=0, callbacks=[progress])


def test_log_file_gets_one_plain_line_per_chunk_counting_run_steps():
    stream = io.StringIO()
    _fit_in_chunks(stream)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["3/6", "6/6"]
    assert all("loss" in line and "s/step" in line for line in lines)
    assert "\r" not in stream.getvalue() and "\033" not in stream.getvalue() and "Epoch" not in stream.getvalue()


def test_log_file_gets_a_line_whenever_its_interval_has_passed(monkeypatch):
    """A slow CPU's log still moves: here every step takes longer than the interval."""
    from kseg.training import progress

    assert progress.PLAIN_LINE_SECONDS <= 25  # the promise: a line at least every 30 s (a step's end after it)
    monkeypatch.setattr(progress, "PLAIN_LINE_SECONDS", 0.0)
    stream = io.StringIO()
    _fit_in_chunks(stream)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"]


def test_several_steps_per_execution_are_counted_as_steps(monkeypatch):
    from kseg.training import progress

    monkeypatch.setattr(progress, "PLAIN_LINE_SECONDS", 0.0)  # a line after every call into the train step
    stream = io.StringIO()
    _fit_in_chunks(stream, steps_per_execution=3)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["3/6", "6/6"]


def test_resumed_run_counts_from_its_step():
    stream = io.StringIO()
    _fit_in_chunks(stream, done=3)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["6/6"]


def test_terminal_gets_one_redrawn_line_ending_at_the_last_step():
    stream = _Terminal()
    _fit_in_chunks(stream)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert text.rstrip("\n").split("\r")[-1].startswith("step 6/6 [========================]")


def test_a_commands_count_is_a_plain_line_per_interval_in_a_log(monkeypatch):
    from kseg.training import progress

    stream = io.StringIO()
    bar = progress.CountProgress(4, "images scored", stream=stream)
    for done in range(1, 5):
        bar.update(done, f"{done}.jpg")
    assert stream.getvalue() == ""  # quicker than the interval: the command's own summary follows
    monkeypatch.setattr(progress, "PLAIN_LINE_SECONDS", 0.0)
    bar = progress.CountProgress(4, "images scored", stream=stream)
    for done in range(1, 5):
        bar.update(done, f"{done}.jpg")
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["images scored 1/4", "images scored 2/4", "images scored 3/4"]
    assert lines[0].endswith("min left") and "\r" not in stream.getvalue() and "\033" not in stream.getvalue()


def test_a_commands_count_is_one_redrawn_line_on_a_terminal():
    from kseg.training.progress import CountProgress

    stream = _Terminal()
    bar = CountProgress(3, "images segmented", stream=stream)
    for done in range(1, 4):
        bar.update(done, f"photo{done}.jpg")
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("images segmented 3/3 photo3.jpg\033[K\n")


def test_a_count_that_stops_early_still_ends_its_line_on_a_terminal():
    from kseg.training.progress import CountProgress

    stream = _Terminal()
    with CountProgress(5, "images scored", stream=stream) as bar:
        bar.update(1, "a.jpg")  # the other four were bad examples, skipped
    assert stream.getvalue().endswith("images scored 1/5 a.jpg\033[K\n")
    log = io.StringIO()
    with CountProgress(5, "images scored", stream=log) as bar:
        bar.update(1)
    assert log.getvalue() == ""  # nothing to end in a log
