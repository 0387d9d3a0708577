"""`python -m training.data_service` (training/data_service.py): bad addresses are refused by
name and a port that cannot be served is one line. A run through a dispatcher and two worker
processes, and their SIGTERM, are in tests/data/test_service.py."""

import socket

import pytest

from training import data_service


@pytest.mark.parametrize("arguments, said", [
    (["dispatcher", "--port", "0", "--workers", "h:5051"], "argument --port: expected a port number in 1-65535. Received: '0'"),
    (["worker", "--dispatcher", "h:5050", "--port", "http"], "argument --port: expected a port number in 1-65535. Received: 'http'"),
    (["dispatcher", "--port", "5050", "--workers", " , "], "argument --workers: expected one host:port or more, separated by commas. Received none"),
    (["dispatcher", "--port", "5050", "--workers", "h1:5051,h2"], "argument --workers: expected host:port. Received: 'h2'"),
    (["dispatcher", "--port", "5050", "--workers", "h1:70000"], "argument --workers: expected a port number in 1-65535. Received: '70000'"),
])
def test_bad_addresses_are_refused_by_name(arguments, said, capsys):
    with pytest.raises(SystemExit) as stopped:
        data_service.main(arguments)
    assert stopped.value.code == 2 and said in capsys.readouterr().err


def test_a_port_in_use_is_one_line(capsys, monkeypatch):
    def served(seconds):
        raise AssertionError("the dispatcher started on a port in use")

    monkeypatch.setattr(data_service.time, "sleep", served)
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert data_service.main(["dispatcher", "--port", str(port), "--workers", "localhost:1"]) == 1
    err = capsys.readouterr().err
    assert err == f"python -m training.data_service: error: cannot serve on port {port}: Could not start gRPC server (is the port in use?)\n"
