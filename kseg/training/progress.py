"""Progress of a training run, counted in the run's own steps.

`model.fit` runs in checkpoint chunks (Keras "epochs", `kseg.training.loop.chunk_plan`),
so Keras' own bar would say "Epoch 3/6" about an artefact of checkpointing. This callback
says "step 150/300" of the whole run instead. On a terminal one line is redrawn in place
(at most `REDRAW_SECONDS` apart); otherwise (a log file, CI) plain lines without escape
codes: one per checkpoint chunk, and one whenever `PLAIN_LINE_SECONDS` have passed since the
last, so that a slow CPU still shows a sign of life at least every half minute.
"""

import sys
import time

import keras

REDRAW_SECONDS = 0.25
PLAIN_LINE_SECONDS = 20.0  # plus at most one step: a line comes at a step's end
BAR_WIDTH = 24


def _metrics_text(logs):
    return " ".join(f"{name} {value:.4g}" for name, value in sorted((logs or {}).items()) if isinstance(value, (int, float)))


class RunProgress(keras.callbacks.Callback):
    """Prints "step <done>/<total>" of the run, seconds per step, time left and the running metrics.

    Args:
        total_steps: the run's last step (`train.steps`).
        stream: where to write (default `sys.stdout`); a terminal gets a redrawn line.
    """

    def __init__(self, total_steps, stream=None):
        super().__init__()
        self.total_steps = int(total_steps)
        self.stream = stream or sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start_step = self._step = 0
        self._plain_step = None  # the step of the last plain line
        self._start_time = self._last_draw = 0.0

    def on_train_begin(self, logs=None):
        self._step = self._start_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._start_time = self._last_draw = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # once per call into the train step, which may run several steps (train.steps_per_execution)
        self._step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        now = time.perf_counter()
        if self.interactive and (now - self._last_draw >= REDRAW_SECONDS or self._step == self.total_steps):
            self._last_draw = now
            self.stream.write("\r" + self.line(logs) + "\033[K")
            self.stream.flush()
        elif not self.interactive and now - self._last_draw >= PLAIN_LINE_SECONDS:
            self._write_plain(logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.interactive and self._plain_step != self._step:
            self._write_plain(logs)

    def _write_plain(self, logs):
        self._last_draw, self._plain_step = time.perf_counter(), self._step
        self.stream.write(self.line(logs) + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def line(self, logs):
        """One line: "step 150/300 [=====>     ] 0.17 s/step, 26 s left  loss 0.73 mean_iou 0.41"."""
        done, total = self._step, self.total_steps
        trained = done - self._start_step
        per_step = (time.perf_counter() - self._start_time) / trained if trained else 0.0
        width = len(str(total))
        text = f"step {done:>{width}}/{total}"
        if self.interactive:
            filled = int(BAR_WIDTH * done / max(total, 1))
            text += " [" + "=" * filled + (">" if filled < BAR_WIDTH else "") + " " * (BAR_WIDTH - filled - 1) + "]"
        if trained:
            text += f" {per_step:.3g} s/step, {per_step * (total - done):.0f} s left"
        metrics = _metrics_text(logs)
        return f"{text}  {metrics}" if metrics else text


class CountProgress:
    """Progress of a command's loop over `total` items (images to segment or score): on a
    terminal "<what> 37/1525 <name>" redrawn in place, ending with a newline (at the last item,
    or when used as a context manager, at its end); otherwise a plain "<what> 37/1525, 12.3 s
    each, 4 min left" line whenever `PLAIN_LINE_SECONDS` have passed.

    Args:
        total: int, the number of items.
        what: str, what is counted ("images segmented").
        stream: where to write (default `sys.stdout`).
    """

    def __init__(self, total, what, stream=None):
        self.total, self.what = int(total), what
        self.stream = stream or sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = self._last = time.perf_counter()
        self._open = False  # a redrawn line without its newline yet

    def __enter__(self):
        return self

    def __exit__(self, *error):
        """End a redrawn line left open (the loop stopped early: an error, skipped items)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def update(self, done, name=""):
        """`done` items of `total` are finished, the last called `name`."""
        now = time.perf_counter()
        if self.interactive and (not self._open or now - self._last >= REDRAW_SECONDS or done >= self.total):
            self._last = now
            self._open = done < self.total
            self.stream.write(f"\r{self.what} {done}/{self.total} {name[:40]}\033[K" + ("" if self._open else "\n"))
            self.stream.flush()
        elif not self.interactive and now - self._last >= PLAIN_LINE_SECONDS and done < self.total:
            self._last = now
            each = (now - self._start) / max(done, 1)
            self.stream.write(f"{self.what} {done}/{self.total}, {each:.3g} s each, {each * (self.total - done) / 60:.0f} min left\n")
            self.stream.flush()
