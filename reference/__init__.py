"""The reference implementation: the course's answers, one module per part of the assignment.

Each module defines exactly the names a student's notebook for that part must define, so the
reference is graded like any submission (it must get full marks) and the solution notebooks
are built from it.
"""
