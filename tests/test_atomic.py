"""``atomic_path`` on real files: the target is the old file or the whole new one, never part of
one; a failure inside leaves it untouched and nothing behind; a replaced file keeps its mode; and
two writers held inside it at once (threads, then processes, met at barriers mid-write) each
replace the target whole, the last one winning.

Every overlap here is forced with barriers and events, never with sleeps or clocks."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from embscope._io.atomic import atomic_path

# long enough that an interleaving of two writers could not pass for either one's content
HALF = 256 * 1024
WAIT = 120  # seconds a barrier waits before it breaks: a hung test fails instead of hanging


def _content(tag: bytes) -> bytes:
    # two different halves, so a file made of one writer's start and the other's end shows
    return tag * HALF + tag.lower() * HALF


def _leftovers(folder: Path, target: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != target)


# ---- one writer ------------------------------------------------------------------------------
def test_a_new_target_appears_only_complete(tmp_path):
    target = tmp_path / "entry.bin"
    content = _content(b"A")
    with atomic_path(target) as temporary:
        with temporary.open("wb") as handle:
            handle.write(content[:HALF])
            handle.flush()
            assert not target.exists()
            handle.write(content[HALF:])
        assert not target.exists()  # written in full, still not in place
    assert target.read_bytes() == content
    assert _leftovers(tmp_path, target) == []


def test_a_replaced_target_is_the_old_file_until_the_new_one_is_whole(tmp_path):
    target = tmp_path / "entry.bin"
    old, new = _content(b"O"), _content(b"N")
    target.write_bytes(old)
    with atomic_path(target) as temporary:
        with temporary.open("wb") as handle:
            handle.write(new[:HALF])
            handle.flush()
            assert target.read_bytes() == old
            handle.write(new[HALF:])
        assert target.read_bytes() == old
    assert target.read_bytes() == new
    assert _leftovers(tmp_path, target) == []


def test_a_reader_holding_the_old_file_reads_it_whole_after_the_replace(tmp_path):
    target = tmp_path / "entry.bin"
    old, new = _content(b"O"), _content(b"N")
    target.write_bytes(old)
    with target.open("rb") as reader:
        start = reader.read(HALF)
        with atomic_path(target) as temporary:
            temporary.write_bytes(new)
        # opened before the rename: it reads all of the old file, not a mix with the new
        assert start + reader.read() == old
    assert target.read_bytes() == new


def test_the_temporary_file_is_beside_the_target(tmp_path):
    target = tmp_path / "nested" / "deeper" / "entry.bin"  # missing folders are made
    with atomic_path(str(target)) as temporary:
        assert isinstance(temporary, Path)
        assert temporary.parent == target.parent and temporary != target
        assert temporary.exists()  # already made, so its name is taken
        # the same folder, so the same file system, so the rename is atomic
        assert temporary.stat().st_dev == target.parent.stat().st_dev
        assert not temporary.name.endswith(target.name)  # *.bin globs do not pick it up
        temporary.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    assert _leftovers(target.parent, target) == []


def test_the_new_file_reaches_the_disk_before_the_rename_and_the_rename_after(
    tmp_path, monkeypatch
):
    target = tmp_path / "entry.bin"
    target.write_bytes(b"old")
    events: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.fstat(descriptor).st_ino))
        return real_fsync(descriptor)

    def replace(source, destination, **kwargs):
        events.append(("replace", os.stat(source).st_ino))
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
        written = temporary.stat().st_ino
    monkeypatch.undo()
    assert events == [
        ("fsync", written),
        ("replace", written),
        ("fsync", tmp_path.stat().st_ino),
    ]
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt])
def test_a_failure_inside_leaves_the_old_file_and_nothing_behind(tmp_path, failure):
    target = tmp_path / "entry.bin"
    old = _content(b"O")
    target.write_bytes(old)
    target.chmod(0o640)
    before = target.stat()
    with pytest.raises(failure), atomic_path(target) as temporary:
        temporary.write_bytes(_content(b"N")[:HALF])
        raise failure("half way through")
    assert target.read_bytes() == old
    after = target.stat()
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (
        before.st_ino,
        before.st_mode,
        before.st_mtime_ns,
    )
    assert _leftovers(tmp_path, target) == []


def test_a_failure_inside_for_a_new_target_leaves_no_file_at_all(tmp_path):
    target = tmp_path / "entry.bin"
    with pytest.raises(OSError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o755, 0o444])
def test_a_replaced_file_keeps_its_permission_bits(tmp_path, mode):
    target = tmp_path / "entry.bin"
    target.write_bytes(b"old")
    target.chmod(mode)
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert _leftovers(tmp_path, target) == []


def test_a_new_file_follows_the_umask(tmp_path):
    target = tmp_path / "entry.bin"
    previous = os.umask(0o027)
    try:
        with atomic_path(target) as temporary:
            # not mkstemp's private 0600 while it is written either
            assert stat.S_IMODE(temporary.stat().st_mode) == 0o640
            temporary.write_bytes(b"new")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# ---- two writers inside at once --------------------------------------------------------------
def _write_in_two_halves(target, content, middle, go_on) -> None:
    """Write half of ``content``, wait at ``middle`` until the other writer (and the test) are
    there too, then, once ``go_on`` is set, write the rest and leave ``atomic_path``."""
    try:
        with atomic_path(target) as temporary, temporary.open("wb") as handle:
            handle.write(content[:HALF])
            handle.flush()
            middle.wait()
            if not go_on.wait(WAIT):
                raise TimeoutError("never told to go on")
            handle.write(content[HALF:])
    except BaseException:
        middle.abort()  # the others must not wait for a writer that has gone
        raise


class _Writers:
    """Starts writers and makes their barriers and events; ``release`` lets every writer still
    waiting go, so a failed assertion in the test never leaves one hanging."""

    def __init__(self, make):
        self.make = make  # the threading module, or a multiprocessing context
        self.started: list = []
        self.barriers: list = []
        self.events: list = []

    def barrier(self, parties: int):
        self.barriers.append(self.make.Barrier(parties, timeout=WAIT))
        return self.barriers[-1]

    def event(self):
        self.events.append(self.make.Event())
        return self.events[-1]

    def release(self) -> None:
        for event in self.events:
            event.set()
        for barrier in self.barriers:
            barrier.abort()


class _Threads(_Writers):
    def __init__(self):
        super().__init__(threading)
        self.errors: list[BaseException] = []

    def start(self, *args) -> threading.Thread:
        def run():
            try:
                _write_in_two_halves(*args)
            except BaseException as error:
                self.errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        self.started.append(thread)
        return thread

    def finish(self, writer) -> None:
        writer.join(WAIT)
        assert not writer.is_alive() and self.errors == []


class _Processes(_Writers):
    def __init__(self):
        # spawn, not fork: the test process may hold threads (ray, torch) that fork would copy
        super().__init__(multiprocessing.get_context("spawn"))

    def start(self, *args):
        process = self.make.Process(target=_write_in_two_halves, args=args)
        process.start()
        self.started.append(process)
        return process

    def finish(self, writer) -> None:
        writer.join(WAIT)
        assert writer.exitcode == 0


@pytest.fixture(params=["threads", "processes"])
def writers(request):
    runner = _Threads() if request.param == "threads" else _Processes()
    yield runner
    runner.release()
    for writer in runner.started:
        writer.join(WAIT)


def test_two_writers_inside_at_once_leave_one_whole_file(tmp_path, writers):
    target = tmp_path / "entry.bin"
    old, first, second = _content(b"O"), _content(b"A"), _content(b"B")
    target.write_bytes(old)
    middle, go_on = writers.barrier(3), writers.event()
    a = writers.start(target, first, middle, go_on)
    b = writers.start(target, second, middle, go_on)
    middle.wait()
    # both are half way through, each in a file of its own, and the target is still the old one
    halves = sorted(p.read_bytes() for p in tmp_path.iterdir() if p != target)
    assert halves == [first[:HALF], second[:HALF]]
    assert target.read_bytes() == old
    go_on.set()  # both finish together
    writers.finish(a)
    writers.finish(b)
    assert target.read_bytes() in (first, second)  # one writer's whole content, not a mix
    assert _leftovers(tmp_path, target) == []


def test_of_two_writers_inside_at_once_the_last_to_finish_wins(tmp_path, writers):
    target = tmp_path / "entry.bin"
    old, first, second = _content(b"O"), _content(b"A"), _content(b"B")
    target.write_bytes(old)
    target.chmod(0o640)
    middle = writers.barrier(3)
    go_on_a, go_on_b = writers.event(), writers.event()
    a = writers.start(target, first, middle, go_on_a)
    b = writers.start(target, second, middle, go_on_b)
    middle.wait()
    go_on_a.set()
    writers.finish(a)
    # the first replaced the target whole and kept its mode; the second is still half way,
    # its temporary file untouched by the first's rename
    assert target.read_bytes() == first
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.read_bytes() for p in tmp_path.iterdir() if p != target] == [second[:HALF]]
    go_on_b.set()
    writers.finish(b)
    assert target.read_bytes() == second
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _leftovers(tmp_path, target) == []


def test_two_threads_entering_at_once_keep_the_umask(tmp_path, monkeypatch):
    real_umask = os.umask
    cleared = threading.Barrier(2, timeout=WAIT)
    held: set[threading.Thread] = set()

    def umask(mask):
        # hold each writer just after it has first set the umask to 0, until the other has
        # too: a thread switch the interpreter may make there at any time
        previous = real_umask(mask)
        writer = threading.current_thread()
        if mask == 0 and writer is not threading.main_thread() and writer not in held:
            held.add(writer)
            cleared.wait()
        return previous

    errors: list[BaseException] = []

    def write(target):
        try:
            with atomic_path(target) as temporary:
                temporary.write_bytes(b"new")
        except BaseException as error:
            errors.append(error)
            cleared.abort()

    original = real_umask(0o022)
    try:
        monkeypatch.setattr(os, "umask", umask)
        threads = [threading.Thread(target=write, args=(tmp_path / name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        monkeypatch.undo()
        left = real_umask(0o022)
    finally:
        real_umask(original)
    assert errors == []
    modes = sorted(stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a", "b"))
    assert modes == [0o644, 0o644]  # one of them is 0666 today
    assert left == 0o022  # and, when the one that read 0 restores last, the process keeps 0
