"""`python -m export.client` (export/client.py) against a canned TF Serving REST answer: where
each mask goes, what it refuses by name, and a server's odd answers as one line. The round
trip through a real exported model is in tests/serving/test_client.py."""

import errno
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from export.client import main
from training.command import run_command

MASKS = [np.array([[0, 1], [2, 3]]), np.array([[4, 4, 5]])]


class _Canned(BaseHTTPRequestHandler):
    """Answers every predict request with `answer` (bytes), HTTP 200."""

    answer = b""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass


def _outputs(masks):
    return json.dumps({"outputs": {
        "labels": [np.pad(m, ((0, 3 - m.shape[0]), (0, 3 - m.shape[1]))).tolist() for m in masks],
        "image_shape": [list(m.shape) for m in masks],
    }}).encode()


@pytest.fixture
def server():
    """`serve(answer)` -> the URL of a server giving that answer."""
    servers = []

    def serve(answer):
        handler = type("Handler", (_Canned,), {"answer": answer})
        servers.append(ThreadingHTTPServer(("127.0.0.1", 0), handler))
        threading.Thread(target=servers[-1].serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{servers[-1].server_address[1]}"

    yield serve
    for s in servers:
        s.shutdown()


@pytest.fixture
def two_images(tmp_path):
    """Two files of the same name in two folders (as a glob over folders gives them)."""
    paths = []
    for folder in ("a", "b"):
        os.makedirs(tmp_path / folder)
        paths.append(str(tmp_path / folder / "photo.jpg"))
        with open(paths[-1], "wb") as f:
            f.write(b"\xff\xd8\xff not decoded by the client")
    return paths


def test_images_of_the_same_name_get_masks_of_their_own(server, two_images, tmp_path, capsys):
    out = tmp_path / "masks"
    assert main(["--url", server(_outputs(MASKS)), "--model", "pan", *two_images, "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["photo.png", "photo_2.png"]
    for name, mask in zip(("photo.png", "photo_2.png"), MASKS):
        np.testing.assert_array_equal(np.array(Image.open(out / name)), mask)
    assert f"-> {out / 'photo_2.png'}" in capsys.readouterr().out


def test_one_image_writes_the_out_file_itself(server, two_images, tmp_path):
    out = tmp_path / "deep" / "mask.png"
    assert main(["--url", server(_outputs(MASKS[:1])), "--model", "pan", two_images[0], "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.array(Image.open(out)), MASKS[0])
    assert os.listdir(out.parent) == ["mask.png"]  # no staging file left


@pytest.mark.parametrize("answer, said", [
    (b"<html>502 Bad Gateway</html>", "the answer is not JSON: b'<html>502 Bad Gateway</html>'"),
    (b"[1, 2]", "expected a JSON object. Received: b'[1, 2]'"),
    (_outputs(MASKS[:1]), "sent 2 images, received 1 label maps"),
    (json.dumps({"predictions": [{"labels": [[0]]}]}).encode(), "expected 'predictions' rows with 'labels' and 'image_shape'"),
])
def test_an_odd_answer_is_one_line_and_writes_nothing(server, two_images, tmp_path, capsys, answer, said):
    url = server(answer)
    assert main(["--url", url, "--model", "pan", *two_images, "--out", str(tmp_path / "masks")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m export.client: error: ") and said in err and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "masks")


@pytest.mark.parametrize("arguments, said", [
    (["--timeout", "0"], "argument --timeout: must be > 0. Received: 0"),
    (["--timeout", "soon"], "argument --timeout: must be > 0. Received: soon"),
    (["--out", "{file}"], "--out {file} is a file: with several images it names a folder"),
    (["{missing}"], "no such image file: {missing}"),
    (["--url", "localhost:8501"], "--url must start with http:// or https://. Received: localhost:8501"),
])
def test_bad_arguments_are_refused_by_name_before_any_request(two_images, tmp_path, capsys, arguments, said):
    names = {"file": str(tmp_path / "taken.png"), "missing": str(tmp_path / "nope.jpg")}
    open(names["file"], "w").close()
    arguments = [a.format(**names) for a in arguments]
    url = [] if "--url" in arguments else ["--url", "http://127.0.0.1:9"]
    with pytest.raises(SystemExit) as stopped:
        main([*url, "--model", "pan", *two_images, *arguments])
    assert stopped.value.code == 2 and said.format(**names) in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_leaves_no_mask(server, two_images, tmp_path, capsys, monkeypatch):
    import kseg.atomic

    def half_written(path, data):
        with kseg.atomic.atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(kseg.atomic, "write_bytes", half_written)
    argv = ["--url", server(_outputs(MASKS[:1])), "--model", "pan", two_images[0], "--out", str(tmp_path / "mask.png")]
    assert run_command(main, argv) == 1
    assert "cannot write " + str(tmp_path / "mask.png") + ": no space left" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
