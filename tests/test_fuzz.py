"""Generated hostile inputs for the grader's code that reads what a submission's namespace writes
(issue 21): the zygote's reading of a child's lines and blocks, the server's reading of the
namespace's replies, and the clean-up of a check's work folder. Each property says the grader's
code neither raises nor keeps more than its bounds, whatever the bytes; bounded in examples and
time so that the file runs in seconds."""
import json
import os
import stat
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.sandbox import GRADER_ERROR, student_details
from autograder.protocol import CHILD_MESSAGES, Reader, child_message, encode, valid_blocks
from autograder.zygote import bound_under, clear_folder, remove_tree

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=20)
# Messages close to the real ones: a real event with fields missing, of other types, or added.
near_messages = st.builds(
    lambda event, fields: {"event": event, **fields},
    st.sampled_from([*CHILD_MESSAGES, "progress", "reply", "grader_error"]),
    st.dictionaries(st.sampled_from(["phase", "blocks", "reason", "block", "tampered", "data", "note", "message",
                                     "error", "details", "n", GRADER_ERROR]), json_values, max_size=4))


@FAST
@given(st.lists(st.one_of(near_messages, json_values), max_size=20), st.binary(max_size=200))
def test_a_childs_lines_are_either_exactly_typed_or_dropped(messages, noise):
    reader = Reader(payload_events=("found",))
    reader.feed(b"".join(json.dumps(m).encode() + b"\n" for m in messages) + noise + b"\n")
    for message in reader.messages():
        kept = child_message(message)
        if kept is not None:  # what the zygote then indexes is there, with its type
            for key, kind in CHILD_MESSAGES[kept["event"]].items():
                assert type(kept[key]) is kind


@FAST
@given(st.one_of(json_values, st.lists(st.dictionaries(st.sampled_from(["where", "source", "first_line", "x"]),
                                                       json_values, max_size=4), max_size=5)),
       st.integers(0, 10_000))
def test_blocks_are_blocks_or_refused(blocks, file_chars):
    from autograder.load import Block
    checked = valid_blocks(blocks, file_chars)
    for block in checked or []:
        Block(**block)  # what a collect child builds from them
        assert "\n" * (block["first_line"] - 1) + block["source"] is not None


@FAST
@given(json_values)
def test_student_details_never_carry_a_grader_error(details):
    if isinstance(details, dict):
        details = {**details, GRADER_ERROR: "forged"}
    kept = student_details(details)
    assert isinstance(kept, dict) and GRADER_ERROR not in kept
    assert len(json.dumps(kept)) < 200_000


@FAST
@given(st.binary(max_size=5000), st.integers(1, 64))
def test_lines_hold_any_bytes_in_any_chunks(data, chunk):
    reader, seen = Reader(), 0
    for start in range(0, len(data), chunk):
        reader.feed(data[start:start + chunk])
        seen += sum(1 for m in reader.messages() if m is None or isinstance(m, dict))
    assert b"\n" not in reader.buffer and seen == data.count(b"\n")


@FAST
@given(st.lists(st.tuples(near_messages, st.one_of(st.none(), st.binary(max_size=300))), max_size=8),
       st.integers(1, 64))
def test_answers_cross_whole_in_any_chunks_and_only_as_announced(sent, chunk):
    """Raw answers (newlines, JSON inside) come back byte for byte after their line, whatever the
    chunks; a "payload" written into a line's JSON is never taken for one."""
    wire = b"".join(encode({**m, "payload": "forged"}, payload) + (payload or b"") for m, payload in sent)
    reader, got = Reader(payload_events=[m["event"] for m, _ in sent]), []
    for start in range(0, len(wire), chunk):
        reader.feed(wire[start:start + chunk])
        got += list(reader.messages())
    assert len(reader) == 0 and len(got) == len(sent)
    for message, (_, payload) in zip(got, sent):
        assert message.get("payload") == payload


# ---- the work folder's clean-up ----

names = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]), min_size=1,
                max_size=30).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200)
trees = st.recursive(st.sampled_from(["file", "link", "fifo", "dangling"]),
                     lambda inner: st.dictionaries(names, inner, max_size=4), max_leaves=25)


def _make(fd, tree, outside):
    for name, node in tree.items():
        if isinstance(node, dict):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            _make(inner, node, outside)
            os.close(inner)
            os.chmod(name, 0, dir_fd=fd) if len(name) % 3 == 0 else None  # some folders without permissions
        elif node == "file":
            with open(os.open(name, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
                f.write(name)
        elif node == "link":
            os.symlink(outside, name, dir_fd=fd)  # a link out of the folder: never followed
        elif node == "fifo":
            os.mkfifo(name, dir_fd=fd)
        else:
            os.symlink("/nonexistent/" + name, name, dir_fd=fd)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(names, trees, max_size=5), st.integers(0, 400))
def test_any_work_folder_is_removed_and_nothing_outside(tmp_path, tree, depth):
    import tempfile
    base = tempfile.mkdtemp(dir=tmp_path)
    outside = os.path.join(base, "outside")
    os.mkdir(outside)
    with open(os.path.join(outside, "keep"), "w") as f:
        f.write("x")
    work = os.path.join(base, "work")
    os.mkdir(work)
    fd = os.open(work, os.O_RDONLY)
    _make(fd, tree, outside)
    for _ in range(depth):  # and a chain of folders
        os.mkdir("deep", dir_fd=fd)
        inner = os.open("deep", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    assert remove_tree(work, 20)
    assert not os.path.lexists(work) and os.listdir(outside) == ["keep"]
    assert stat.S_IMODE(os.stat(outside).st_mode) != 0


def test_a_folder_deeper_than_recursion_and_path_max_is_removed_in_bounded_time(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    fd = os.open(work, os.O_RDONLY)
    for _ in range(5000):  # paths of 10,000 characters; shutil.rmtree: RecursionError
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    started = time.monotonic()
    assert remove_tree(str(work), 30)
    assert time.monotonic() - started < 30 and not work.exists()


def test_the_clean_up_stops_at_its_deadline(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for i in range(2000):
        (work / f"f{i}").write_text("x")
    assert not remove_tree(str(work), 0) and work.exists()
    assert remove_tree(str(work), 30) and not work.exists()



def test_clearing_tmp_keeps_what_bwrap_bound_there_and_removes_what_a_check_wrote_beside_it(tmp_path):
    """A checkout or venv under the host's /tmp is bound into the namespace's /tmp, inside folders
    bwrap made on the tmpfs, which student code can write into. Between two checks, everything but
    the binds goes, the writes beside them included; trying to remove the (read-only) binds cost a
    second a child, and the binds are not tried."""
    tmp = tmp_path / "tmp"
    (tmp / "ci" / "fresh" / "autograder").mkdir(parents=True)
    (tmp / "ci" / "fresh" / "autograder" / "score.py").write_text("bound")
    (tmp / "ci" / "fresh" / "my venv").mkdir()
    (tmp / "submission").mkdir()
    (tmp / "submission" / "part1_dcgan.py").write_text("kept")
    for left in (tmp / "seen.txt", tmp / "ci" / "seen.txt", tmp / "ci" / "fresh" / "seen.txt"):
        left.write_text("what a hidden check's child saw")
    (tmp / "ci" / "fresh" / "deep" / "er").mkdir(parents=True)
    (tmp / "ci" / "link").symlink_to(tmp / "submission")
    mountinfo = tmp_path / "mountinfo"
    bound = [tmp / "ci" / "fresh" / "autograder" / "score.py", tmp / "ci" / "fresh" / "my venv"]
    mountinfo.write_text("".join(f"{n} 1 0:1 / {str(p).replace(' ', chr(92) + '040')} ro - ext4 /dev/vda ro\n"
                                 for n, p in enumerate([tmp_path.parent, tmp, *bound])))
    mounts, holders = bound_under(str(tmp), str(mountinfo))
    assert mounts == set(map(str, bound))
    assert holders == {str(tmp / "ci"), str(tmp / "ci" / "fresh"), str(tmp / "ci" / "fresh" / "autograder")}
    clear_folder(str(tmp), {str(tmp / "submission")}, mounts, holders, 10)
    left = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))
    assert left == ["ci", "ci/fresh", "ci/fresh/autograder", "ci/fresh/autograder/score.py", "ci/fresh/my venv",
                    "submission", "submission/part1_dcgan.py"], left

# ---- the judge's reading of an answer ----

def _saved(value):
    import io

    import torch
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_a_forged_view_is_refused_before_its_values_are_read():
    """A small storage seen through zero strides as 10**12 values (issue 21: 4.9 GB in the judge)."""
    import pytest
    import torch

    from autograder.checks.registry import decode
    small = torch.zeros(4)
    for forged in (small.as_strided((10 ** 6, 10 ** 6), (0, 0)), {"x": [small.as_strided((2 ** 40,), (0,))]},
                   small.to(torch.complex64)):
        with pytest.raises(ValueError, match="claims more values|is not an answer"):
            decode(_saved(forged))
    assert torch.equal(decode(_saved({"a": torch.arange(6.).view(2, 3).t()}))["a"], torch.arange(6.).view(2, 3).t())


@FAST
@given(st.lists(st.integers(0, 2 ** 31), min_size=1, max_size=4), st.lists(st.integers(0, 2 ** 31), min_size=4,
                                                                           max_size=4), st.integers(0, 64))
def test_any_view_of_a_small_storage_is_judged_by_what_it_holds(shape, strides, offset):
    import torch

    from autograder.checks.registry import decode
    storage = torch.zeros(64)
    try:
        forged = storage.as_strided(shape, strides[:len(shape)], offset)
    except RuntimeError:  # torch itself refuses the view
        return
    data = _saved(forged)
    try:
        found = decode(data)
    except ValueError:
        return
    assert found.numel() * found.element_size() <= len(data)
    found.clone()  # its values can be read: they are in the bytes
