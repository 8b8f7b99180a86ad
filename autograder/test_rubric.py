"""One test per rubric item: it passes when the check passes, and fails with the check's message."""


def test_check(rubric_id, graded, record):
    scored = graded[rubric_id]
    record(scored)
    assert scored.passed, scored.message
