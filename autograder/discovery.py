"""Finding a class's submissions on disk: one Candidate per student, with an id fit for file names
and CSV cells, archives unpacked with limits. The batch (autograder/batch.py) and the similarity
report (autograder/similarity.py) both read the class through discover(); neither imports the other.
"""
import hashlib
import os
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from dateutil import parser as dates

from autograder.load import SUFFIXES, read_part, submission_limits
from autograder.rubric import load_rubric

WORK = "_work"
ID_BYTES = 64  # students/<id>/, _work/<id>/, the similarity report's <id>/<part>.py: far below NAME_MAX (255)

@dataclass
class Candidate:
    """One student's submission as found on disk."""
    student_id: str
    path: Path  # a folder holding the part files
    timestamp: str = ""
    source: str = ""  # what it was found as (folder, zip, nbgrader, files)
    problem: str = ""  # why it cannot be graded (a bad zip...): graded as an empty submission
    info: dict = field(default_factory=dict)  # names and email from a roster
    name: str = ""  # the name on disk the id comes from
    unpack: object = None  # how to lay the submission out under the work folder once its id is known


def _safe_id(name):
    """A name fit for a folder and a CSV cell: no leading + - @ (a spreadsheet would read a formula)."""
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", name).lstrip("._+-@").rstrip("._") or "unnamed"


def _digest(text, n=8):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:n]


def _assign_ids(candidates, log=sys.stderr):
    """Unique ids that do not depend on the rest of the class: a name that _safe_id alters
    ("José" -> "Jos_") or that is longer than ID_BYTES (cut) gets a suffix derived from the name
    itself ("Jos_-3f2a9c1d"), so two names
    that normalise alike both keep a row; two submissions under one name (alice/ and alice.zip)
    are both graded: the first by source keeps the name, the others get a suffix derived from
    their source. Nobody is dropped."""
    for c in candidates:
        safe = _safe_id(c.name)
        if len(safe) > ID_BYTES:  # ASCII by _safe_id: characters are bytes; the digest keeps it unique
            safe = safe[:ID_BYTES - 9].rstrip("._")
        c.student_id = safe if safe == c.name else f"{safe}-{_digest(c.name)}"
    taken = {}
    for c in sorted(candidates, key=lambda c: (c.student_id, c.source)):
        if c.student_id in taken:
            first = taken[c.student_id]
            c.student_id = f"{c.student_id[:ID_BYTES - 9]}-{_digest(c.source)}"
            while c.student_id in taken:  # a collision of the digests themselves: still nobody dropped
                c.student_id = f"{c.student_id[:ID_BYTES - 9]}-{_digest(c.student_id)}"
            print(f"warning: {first.source} and {c.source} have the same student id: both are graded, the "
                  f"second as {c.student_id}", file=log)
        taken[c.student_id] = c
    return sorted(candidates, key=lambda c: c.student_id)


def _zip_entries(archive):
    """The member count a zip's end record declares, read before ZipFile parses (and holds in
    memory) its whole central directory; None when it cannot be read so (ZipFile then decides)."""
    try:
        with open(archive, "rb") as f:
            end = zipfile._EndRecData(f)  # noqa: SLF001 - the stdlib's own reader of that record
    except (OSError, AttributeError):
        return None
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else None  # noqa: SLF001


def _extract(archive, dest, limits):
    """Unzip with limits: no path outside dest, no links or special files, at most
    `archive_members` members `depth` folders deep, `unpacked_bytes` in all, counted while
    writing (a zip bomb is refused, whatever sizes its headers claim)."""
    size, members_max = os.stat(archive).st_size, int(limits["archive_members"])
    if size > int(limits["archive_bytes"]):
        raise ValueError(f"the zip is {size / 1e6:.0f} MB (at most {int(limits['archive_bytes']) / 1e6:g} MB)")
    declared = _zip_entries(archive)
    if declared is not None and declared > members_max:
        raise ValueError(f"{declared} files and folders in the zip (at most {members_max})")
    budget = int(limits["unpacked_bytes"])
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > members_max:
            raise ValueError(f"{len(members)} files and folders in the zip (at most {members_max})")
        if sum(m.file_size for m in members) > budget:
            raise ValueError(f"the zip unpacks to more than {budget / 1e6:g} MB")
        root = dest.resolve()
        for member in members:
            parts = [p for p in member.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if len(parts) > int(limits["depth"]) + 1:
                raise ValueError(f"the zip nests folders {len(parts) - 1} deep (at most {limits['depth']})")
            target = Path(os.path.normpath(root.joinpath(*parts))) if parts else root
            if target == root or not str(target).startswith(str(root) + os.sep) or ".." in parts:
                raise ValueError(f"the zip has a path outside its folder: {member.filename[:200]!r}")
            kind = (member.external_attr >> 16) & 0o170000
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if kind not in (0, 0o100000):  # a symbolic link or a special file: never created
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "xb") as out:
                while chunk := src.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise ValueError(f"the zip unpacks to more than {int(limits['unpacked_bytes']) / 1e6:g} MB")
                    out.write(chunk)


def _mtime(path):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(os.lstat(path).st_mtime))


def _timestamp(folder, log=sys.stderr):
    """nbgrader's timestamp.txt (its first line, read as a regular file only) when it is a date, else
    the folder's time. The student writes that file: text that is not a date is never copied."""
    try:
        text = read_part(folder / "timestamp.txt")[:100].decode("utf-8", "replace").splitlines()[0].strip()
    except Exception:  # noqa: BLE001 - absent, a link, empty: the folder's time says when
        return _mtime(folder)
    try:
        dates.parse(text)  # as nbgrader reads it (nbgrader.utils.parse_utc)
    except (ValueError, OverflowError):
        print(f"warning: {folder.parent.name[:80]!r}: timestamp.txt is not a date; the folder's time is used",
              file=log)
        return _mtime(folder)
    return text


def _entries(root, parts, assignment, log=sys.stderr):
    """One Candidate per submission under root, before ids are assigned; any entry that cannot be
    read is a Candidate with its problem, never an exception that stops discovery."""
    found, loose = [], {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        name = entry.name
        if name.startswith(".") or name == WORK:
            continue
        try:
            part = next((p for p in parts if p in Path(name).stem), None) if name.endswith(SUFFIXES) else None
            if part and (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                # loose part files; a link among them is kept as a link, and refused when it is loaded
                stem = Path(name).stem
                student = stem[:stem.index(part)].strip("_-. ") or "unnamed"
                loose.setdefault(student, []).append((part, Path(entry.path)))
            elif entry.is_symlink():
                if os.path.isdir(entry.path) or name.lower().endswith(".zip"):
                    found.append(Candidate("", Path(entry.path), _mtime(entry.path), f"link:{name}",
                                           f"{name} is a symbolic link: the grader does not follow links out of "
                                           "the submissions folder", name=Path(name).stem))
            elif entry.is_dir(follow_symlinks=False):
                folder = Path(entry.path)
                nbgrader = folder / assignment
                if os.path.islink(nbgrader):
                    found.append(Candidate("", folder, _mtime(folder), f"nbgrader:{name}",
                                           f"{name}/{assignment} is a symbolic link: the grader does not follow "
                                           "links out of the submissions folder", name=name))
                elif os.path.isdir(nbgrader):  # submitted/<student>/<assignment>/
                    found.append(Candidate("", nbgrader, _timestamp(nbgrader, log), f"nbgrader:{name}", name=name))
                else:
                    found.append(Candidate("", folder, _mtime(folder), f"folder:{name}", name=name))
            elif not entry.is_file(follow_symlinks=False):
                if name.lower().endswith((".zip",) + SUFFIXES):
                    found.append(Candidate("", Path(entry.path), _mtime(entry.path), f"special:{name}",
                                           f"{name} is not a regular file (a fifo, device or socket)",
                                           name=Path(name).stem))
            elif name.lower().endswith(".zip"):
                found.append(Candidate("", Path(entry.path), _mtime(entry.path), f"zip:{name}", name=name[:-4],
                                       unpack=Path(entry.path)))
        except Exception as exc:  # noqa: BLE001 - one odd entry is that student's problem, not the class's
            found.append(Candidate("", Path(entry.path), "", f"entry:{name}",
                                   f"{name} could not be read: {type(exc).__name__}: {str(exc)[:300]}", name=name))
    for student, files in sorted(loose.items()):
        found.append(Candidate("", Path(), max(_mtime(p) for _, p in files),
                               "files:" + ",".join(p.name for _, p in files), name=student, unpack=files))
    return found


def discover(root, out, rubric=None, log=sys.stderr):
    """Every student's submission under root, sorted by student id: each discovered entry is one
    Candidate (an archive that cannot be unpacked is one with its `problem`)."""
    rubric = rubric or load_rubric()
    parts, limits = rubric["parts"], submission_limits()
    root = Path(root)
    if (root / "submitted").is_dir():
        root = root / "submitted"
    work = Path(out) / WORK
    candidates = _assign_ids(_entries(root, parts, rubric["assignment"], log), log)
    for c in candidates:
        try:
            if c.problem:
                continue
            if c.unpack is None:  # a folder: autograder.load.find_parts finds its part files, however nested
                continue
            dest = work / c.student_id
            shutil.rmtree(dest, ignore_errors=True)  # made by _extract, at most `depth` deep
            dest.mkdir(parents=True)
            if isinstance(c.unpack, Path):
                c.path = dest
                _extract(c.unpack, dest, limits)
            else:
                for part, path in c.unpack:
                    shutil.copyfile(path, dest / f"{part}{path.suffix}", follow_symlinks=False)
                c.path = dest
        except Exception as exc:  # noqa: BLE001 - a bad zip (or anything odd) costs that student alone
            what = c.source.split(":", 1)[-1]
            c.problem = f"{what} was not unpacked: {str(exc)[:500] or type(exc).__name__}"
        finally:
            c.unpack = None
    return candidates
