"""Ctrl-C and SIGTERM stop ``generate`` at once and leave no temporary file; a later write
removes the temporaries a killed process left for its target."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from kinnsci._atomic import IN_PROGRESS, atomic_path, remove_stale_temporaries, write_text_atomic
from kinnsci.cli.interrupt import run_interruptible


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_write_removes_the_temporary_and_exits_at_once(signum, tmp_path,
                                                                         capsys):
    """The worker is stuck in a call that never returns to Python (as a long HDF5 write
    is); the handler must still remove the temporary and exit 128 + signal."""
    target = tmp_path / "out.nc"
    started, release = threading.Event(), threading.Event()

    def work():
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            started.set()
            release.wait(30)  # a blocking call
        return target

    def send():
        started.wait(10)
        os.kill(os.getpid(), signum)

    def exit_(code):
        raise SystemExit(code)

    threading.Thread(target=send, daemon=True).start()
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        run_interruptible(work, "generate", exit=exit_)
    elapsed = time.perf_counter() - t0
    release.set()
    assert info.value.code == 128 + signum
    assert elapsed < 5
    assert not target.exists() and _temporaries(tmp_path) == []
    err = capsys.readouterr().err
    assert f"stopped by {signal.Signals(signum).name}" in err and "the output is unchanged" in err
    # the handlers the caller had are back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_errors_and_results_of_the_work_reach_the_caller():
    assert run_interruptible(lambda: 42, "generate") == 42

    def fail():
        raise KeyError("from the worker")

    with pytest.raises(KeyError, match="from the worker"):
        run_interruptible(fail, "generate")


def test_ctrl_c_while_generate_writes_exits_promptly_and_leaves_nothing(tmp_path):
    """End to end: the real command, interrupted once its temporary file is being filled."""
    (tmp_path / "keep.nc").write_bytes(b"the user's")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kinnsci.cli.main", "generate", "poisson", "--n-samples", "300",
         "--resolution", "128", "--out", str(tmp_path / "p.nc"), "--no-progress"],
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        tmps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        if tmps and tmps[0].stat().st_size > 0:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "generate finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5, "Ctrl-C took more than 5 s"
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.nc"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_later_write_removes_temporaries_a_killed_process_left(tmp_path):
    host = socket.gethostname()
    target = tmp_path / "data.nc"
    dead = tmp_path / f".data.nc.{host}-{_dead_pid()}-abc123.tmp"
    live = tmp_path / f".data.nc.{host}-{os.getpid()}-def456.tmp"  # still being written
    elsewhere = tmp_path / f".data.nc.another-host-{_dead_pid()}-ghi789.tmp"
    other_target = tmp_path / f".other.nc.{host}-{_dead_pid()}-jkl012.tmp"
    for p in (dead, live, elsewhere, other_target):
        p.write_bytes(b"leftover")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert not dead.exists()
    assert live.exists() and elsewhere.exists() and other_target.exists()
    assert remove_stale_temporaries(target) == []
    assert IN_PROGRESS == set()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_train_exits_in_one_line_with_the_resume_hint(signum, tmp_path):
    """Like generate: one line, exit 128 + signal, last.pt whole, no temporaries left."""
    from kinnsci.data import generate
    from kinnsci.train.checkpoint import load_checkpoint

    data = generate("darcy", tmp_path / "d.nc", n_samples=16, resolution=16, seed=0,
                    progress=False)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kinnsci.cli.main", "train", "--data", str(data), "--inputs",
         "a", "--targets", "u", "--model", "fno", "--model-config",
         '{"hidden_channels": 8, "n_modes": [6, 5]}', "--epochs", "500", "--batch-size", "4",
         "--out", str(out), "--no-progress", "--no-plots"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (out / "last.pt").exists():
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    assert f"kinnsci train: stopped by {name}" in err and "Traceback" not in err
    assert f"--resume {out / 'last.pt'}" in err
    assert load_checkpoint(out / "last.pt")["epoch"] >= 1
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
