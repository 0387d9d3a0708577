"""Storage errors (kseg/training/errors.py): a full or read-only disk is one line saying what
the run folder holds; other errors are not hidden."""


def test_storage_errors_are_one_line_and_others_are_not_hidden(tmp_path):
    import errno

    import tensorflow as tf

    from kseg.training.errors import storage_error

    (tmp_path / "a").write_bytes(b"x" * 2**20)
    read_only = storage_error(OSError(errno.EROFS, "Read-only file system", str(tmp_path / "model.keras")), str(tmp_path))
    assert read_only.startswith(f"cannot write {tmp_path / 'model.keras'}: the file system is read-only; the run folder")
    assert "holds 1.0 MB" in read_only
    saving = tf.errors.ResourceExhaustedError(None, None, "runs/x/checkpoints/ckpt-4_temp/part-0; No space left on device")
    assert "no space left on the device" in storage_error(saving, str(tmp_path))
    assert storage_error(OSError(errno.ENOENT, "No such file"), str(tmp_path)) is None
    assert storage_error(ValueError("No space left on device"), str(tmp_path)) is None  # not an I/O error
