"""Red team: an exception message holding a lone surrogate ("\ud800") breaks the reports.

A Python str may hold a lone surrogate; json.dumps (ensure_ascii) carries it as the escape
"\\ud800" through every pipe (child -> zygote -> server -> grading process), and json.loads gives
it back as a str. Nothing cleans it before the reports are written as UTF-8, which cannot encode
it: `report.html_page` puts the message in the page and `Path.write_text` raises
UnicodeEncodeError (autograder/batch.py `_write` of report.html, autograder/report.py
`write_all`); `grade` prints the table to stdout first (`__main__.py`: print(report.table(...))).

The guarantees (docs/batch.md "Who may say what": a grader error is "only what the grader observes
itself, never bytes the namespace writes"; "What the sandbox guarantees": "a crash of its side
costs its own checks only"): the student's failure is a plain failure, the batch records no
grader error for it, its report.html is written, and `grade` exits normally with its reports.
"""
from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    raise RuntimeError("wrong bce \ud800")
