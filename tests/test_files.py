"""chainrule.files: the one safe writer (atomic, never through a link, the umask's mode, nothing left
behind) and the regular-file check of what is read; and that every writer of the package uses it."""

import json
import os
import stat
import tempfile
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import files, plotting
from chainrule.experiments.context import Context

def listing(folder):
    return sorted(os.listdir(folder))


@pytest.fixture
def umask():
    """Set the process's umask for one test; restored after it."""
    old = os.umask(0o022)
    os.umask(old)

    def set_to(mask):
        os.umask(mask)

    yield set_to
    os.umask(old)


def small_net():
    return cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1, "sigmoid")], loss="bce", seed=0)


# ---- what write writes -----------------------------------------------------------------------


@pytest.mark.parametrize("content, expected", [(b"\x00bytes\xff", b"\x00bytes\xff"),
                                               ("text é\n", "text é\n".encode()),
                                               (lambda f: f.write(b"from a callback"), b"from a callback")])
def test_write_takes_bytes_text_or_a_callback(tmp_path, content, expected):
    path = tmp_path / "out.bin"
    files.write(path, content)
    assert path.read_bytes() == expected
    assert listing(tmp_path) == ["out.bin"]


def test_write_replaces_an_existing_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    files.write(path, "new")
    assert path.read_text() == "new" and listing(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_mode_follows_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    small_net().save(tmp_path / "m.npz")  # model files were 0600 whatever the umask
    files.write(tmp_path / "t.txt", "x")
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "t.txt").st_mode) == mode


# ---- links -----------------------------------------------------------------------------------


def test_a_link_at_the_target_is_refused_and_what_it_points_to_is_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "m.npz").symlink_to(victim)
    with pytest.raises(ValueError, match="is a symbolic link; chainrule does not write through links"):
        small_net().save(tmp_path / "m.npz")
    assert victim.read_text() == "precious" and os.path.islink(tmp_path / "m.npz")


def test_a_link_at_the_old_predictable_temporary_name_is_not_followed(tmp_path):
    # figures were written through "{path}.tmp": a link planted there redirected the write
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "fig.png.tmp").symlink_to(victim)
    fig = plotting.figure()
    fig.subplots().plot([0, 1])
    plotting.save(fig, tmp_path / "fig.png")
    assert victim.read_text() == "precious"
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_a_link_at_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    # mkstemp creates its file with O_EXCL: a link already at the name it draws makes it draw another
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["planted1", "fresh001"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    (tmp_path / f"{files.PREFIX}planted1{files.SUFFIX}").symlink_to(victim)
    files.write(tmp_path / "out.txt", "new")
    assert victim.read_text() == "precious" and (tmp_path / "out.txt").read_text() == "new"


def test_a_folder_at_the_target_is_refused(tmp_path):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(ValueError, match="it is a folder; give a file name inside it"):
        files.write(tmp_path / "m.npz", b"x")


# ---- failures leave nothing behind --------------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half_then_fail(f):
        f.write(b"half")
        raise error

    with pytest.raises(type(error)):
        files.write(path, half_then_fail)
    assert path.read_text() == "old" and listing(tmp_path) == ["out.txt"]


def test_a_figure_that_fails_to_render_leaves_nothing(tmp_path, monkeypatch):
    fig = plotting.figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(ValueError("cannot render")))
    with pytest.raises(ValueError, match="cannot render"):
        plotting.save(fig, tmp_path / "fig.png")
    assert listing(tmp_path) == []


def test_an_unwritable_folder_is_named_not_the_temporary_file(tmp_path):
    with pytest.raises(OSError) as caught:
        files.write(tmp_path / "missing" / "out.txt", "x")
    assert "out.txt" in str(caught.value) and files.PREFIX not in str(caught.value)


def test_stale_temporaries_of_ours_are_removed_and_nothing_else(tmp_path):
    old = time.time() - files.STALE_SECONDS - 60
    stale = tmp_path / f"{files.PREFIX}abcd_123{files.SUFFIX}"
    fresh = tmp_path / f"{files.PREFIX}efgh_456{files.SUFFIX}"  # a save still in progress
    other = tmp_path / f"{files.PREFIX}notes{files.SUFFIX}"  # not a name mkstemp makes
    link = tmp_path / f"{files.PREFIX}link_789{files.SUFFIX}"
    for path in (stale, fresh, other):
        path.write_text("x")
    link.symlink_to(other)
    for path in (stale, other):
        os.utime(path, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    files.write(tmp_path / "out.txt", "x")
    assert listing(tmp_path) == sorted([fresh.name, other.name, link.name, "out.txt"])


# ---- every writer goes through it --------------------------------------------------------------


def test_every_writer_of_the_package_uses_the_safe_writer(tmp_path, monkeypatch):
    written = []
    write = files.write
    monkeypatch.setattr(files, "write", lambda path, content: (written.append(os.path.basename(path)),
                                                                write(path, content)))
    small_net().save(tmp_path / "m.npz")
    fig = plotting.figure()
    plotting.save(fig, tmp_path / "fig.png")
    ctx = Context("demo", "A title", tmp_path)
    ctx.results["x"] = 1.0
    ctx.write("chainrule experiment demo")
    assert written == ["m.npz", "fig.png", "results.json", "report.md"]
    assert json.loads((tmp_path / "results.json").read_text())["x"] == 1.0


# ---- checks before writing and reading ---------------------------------------------------------


def test_check_writable(tmp_path):
    (tmp_path / "a_file").write_text("x")
    files.check_writable(tmp_path / "new.npz")
    with pytest.raises(ValueError, match="does not exist; create it first"):
        files.check_writable(tmp_path / "missing" / "m.npz")
    with pytest.raises(ValueError, match="a_file' is a file, not a folder"):
        files.check_writable(tmp_path / "a_file" / "m.npz")  # a failure for root too
    assert listing(tmp_path) == ["a_file"]


def test_check_writable_tries_the_folder(read_only_folder):
    with pytest.raises(ValueError, match=r"cannot write into the folder .*read-only' \(Permission denied\)"):
        files.check_writable(read_only_folder / "m.npz")


def test_check_folder_may_be_missing_below_a_writable_parent(tmp_path):
    files.check_folder(tmp_path / "new" / "deeper", missing_ok=True)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="a_file' is a file, not a folder"):
        files.check_folder(tmp_path / "a_file" / "sub", missing_ok=True)
    assert listing(tmp_path) == ["a_file"]


def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer
    with pytest.raises(ValueError, match="it is a device, a FIFO or a socket"):
        files.open_regular(fifo)
    with pytest.raises(ValueError, match="it is a device, a FIFO or a socket"):
        files.open_regular("/dev/zero")
    with pytest.raises(ValueError, match="it is a folder"):
        files.open_regular(tmp_path)
    with pytest.raises(ValueError, match="no file at"):
        files.open_regular(tmp_path / "missing")
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="it has 100 bytes, more than the 99"):
        files.open_regular(tmp_path / "big", max_bytes=99)
    with files.open_regular(tmp_path / "big", max_bytes=100) as f:
        assert f.read() == b"x" * 100


def test_load_csv_refuses_a_device_and_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "data.csv")
    for path in (tmp_path / "data.csv", "/dev/zero"):
        with pytest.raises(ValueError, match="not a regular CSV file"):
            cr.datasets.load_csv(path, "y")
    (tmp_path / "ok.csv").write_text("a,y\n1,0\n2,1\n")
    np.testing.assert_array_equal(cr.datasets.load_csv(tmp_path / "ok.csv", "y")[1], [0, 1])
