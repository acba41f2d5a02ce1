"""``chainrule playground``'s errors: one line on stderr and exit status 2, before any server starts."""

import socket

import pytest

from chainrule.cli import main

pytest.importorskip("uvicorn", reason="the playground's extra is not installed: pip install \".[playground]\"")


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chainrule: error: ")
    return err


@pytest.mark.parametrize("port", ["70000", "-1", "0"])  # 0 would bind any free port, not the one the page opens
def test_a_port_out_of_range_is_one_line(capsys, monkeypatch, port):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self: pytest.fail("the server started"))
    assert main(["playground", "--no-browser", "--port", port]) == 2
    assert "the port (--port) must be a whole number from 1 to 65535" in one_error_line(capsys)


def test_a_port_in_use_is_one_line_naming_the_fix(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["playground", "--no-browser", "--port", str(port)]) == 2
    err = one_error_line(capsys)
    assert f"127.0.0.1:{port}" in err and "choose another with --port" in err


def test_a_host_not_of_this_machine_is_one_line(capsys):
    assert main(["playground", "--no-browser", "--host", "192.0.2.1", "--port", "8765"]) == 2
    assert "give --host an address of this machine" in one_error_line(capsys)


def test_the_host_names_answered_are_this_machines_and_every_interface_adds_its_name():
    from chainrule.playground import host_names

    assert set(host_names("127.0.0.1")) == {"127.0.0.1", "localhost", "::1", "[::1]"}
    assert "[::1]" in host_names("::1")
    everywhere = host_names("0.0.0.0")
    assert socket.gethostname() in everywhere and "localhost" in everywhere
    assert not any(name in everywhere for name in ("attacker.example", "*"))
