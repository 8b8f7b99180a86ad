"""One test per rubric item: it passes when the check passes, and fails with the check's message."""
from autograder.score import score_one


def test_check(rubric_id, submission, context, record):
    scored = score_one(rubric_id, submission, context)
    record(scored)
    assert scored.passed, scored.message
