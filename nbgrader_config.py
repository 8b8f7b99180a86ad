# nbgrader's configuration for this course: run nbgrader from this folder (the course root).
#
#   nbgrader generate_assignment genmodels --force   # solutions/genmodels -> assignments/genmodels
#   nbgrader autograde genmodels                     # submitted/<student>/genmodels -> autograded/...
#   nbgrader generate_feedback genmodels             # autograded/... -> feedback/<student>/genmodels/*.html
#   nbgrader export                                  # grades.csv
#
# (nbgrader runs `alembic`: put the project's .venv/bin first on PATH.) docs/instructor.md has
# the whole path; scripts/build_notebooks.py --release runs the first command for you.
import os

c = get_config()  # noqa: F821  (traitlets provides it)

HERE = os.path.dirname(os.path.abspath(__file__))

# -- the course directory ---------------------------------------------------------------------
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "gan-course"
c.CourseDirectory.source_directory = "solutions"  # nbgrader source notebooks (generated, committed)
c.CourseDirectory.release_directory = "assignments"  # what students get (generated, committed)
# submitted/, autograded/, feedback/ keep nbgrader's default names, under this folder.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# -- autograding ------------------------------------------------------------------------------
# Cells tagged `experiment` (training runs, plots) are never executed by the graders: nbclient's
# own option, which nbgrader's Execute preprocessor inherits (pytest autograder skips them too).
c.Execute.skip_cells_with_tag = "experiment"
# One cell may train a network (grading.yml's training check runs minutes on a CPU).
c.Execute.timeout = 1800
c.Execute.startup_timeout = 120

# -- feedback ---------------------------------------------------------------------------------
# nbgrader puts the hidden tests back into the notebook it autogrades, and generate_feedback
# would show them to the student (jupyter/nbgrader#917): strip them again for the feedback.
# The cell's output (the check's message) stays.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
