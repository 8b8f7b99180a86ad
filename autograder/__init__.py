"""The autograder: a submission is loaded (load.py), checked (checks/), scored (score.py) and
reported (report.py). `pytest autograder` is the student's front end (conftest.py)."""
