"""`pytest autograder`: the student's front end. One test per rubric item of grading.yml.

Options: --submission PATH (default: the student's working copy, assignments/<assignment>/),
--grading-out DIR (default: grading-output/), --device cpu|cuda, --isolation auto|bwrap|container|in-process
(default auto: a student's own run, in the strongest mode the platform allows, said in one line;
bwrap for an instructor's or CI's run, which refuses without a sandbox: autograder/modes.py;
in-process: the checks in this process), --limits FILE (a YAML `limits:` section over grading.yml's), --seed N
(replay a grading). A failed check is reported by its message alone (what a student needs);
--grader-internals, or an explicit --tb=..., shows pytest's usual traceback with the grader's
objects. At the end, the table of checks, points and messages is printed, and results.json
(Gradescope), report.html and junit.xml are written to the output folder.
"""
import sys
from pathlib import Path

import pytest

from autograder import modes, report
from autograder.rubric import ROOT, grading_seed, load_rubric

RESULTS = pytest.StashKey[list]()
FINGERPRINT = pytest.StashKey[dict]()
SEED = pytest.StashKey[int]()
SANDBOX = pytest.StashKey[object]()  # the sandbox server, launched before torch is imported here
SCORED = pytest.StashKey[object]()  # on a test item: its scored check, for the failure's report


def pytest_addoption(parser):
    group = parser.getgroup("autograder")
    group.addoption("--submission", default=None, help="folder or file to grade (default: assignments/<assignment>/)")
    group.addoption("--grading-out", default="grading-output", help="where results.json, report.html, junit.xml go")
    group.addoption("--device", default=None, help="cpu or cuda (default: cuda when available)")
    group.addoption("--isolation", default=modes.OWN_RUN, choices=(modes.OWN_RUN,) + modes.ISOLATIONS,
                    help="auto (default): your own submission, in the strongest mode this machine allows; bwrap: "
                         "refuse without a sandbox (an instructor's or CI's run); container: no namespaces "
                         "(one submission per machine; docs/batch.md); in-process: the checks in this process")
    group.addoption("--limits", default=None, help="YAML file whose `limits:` override grading.yml's")
    group.addoption("--seed", default=None, type=int,
                    help="the checks' seed (default: grading.yml's `seed`, drawn afresh when `random`); "
                         "results.json records it, so passing it again replays a grading")
    group.addoption("--grader-internals", action="store_true",
                    help="report a failed check with pytest's traceback and the grader's objects, not its message alone")


def _internals(config):
    """Tracebacks asked for: --grader-internals, or a --tb style given on the command line."""
    return config.getoption("--grader-internals") or config.getoption("tbstyle") != "auto"


def _mode(config):
    """(mode, why): autograder/modes.py decides a student's own run; an instructor's names its mode."""
    asked = config.getoption("--isolation")
    if asked != modes.OWN_RUN:
        return asked, f"--isolation {asked}"
    return modes.own_run(config.getoption("--device"))


def _refusal(exc):
    """The one paragraph an instructor's run gets where it must refuse: why, and what to do."""
    return (f"grader error (this machine, not the submission): {exc}\nNo submission was graded. Grading your "
            "own work? Drop `--isolation bwrap` (the default, auto, grades it in the strongest mode this "
            "machine allows). Grading a class? Use a machine where bwrap runs (docs/batch.md).")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.stash[RESULTS] = []
    from autograder.preflight import default_device, pytest_preflight
    if config.option.device is None:  # one device for the pre-flight, the server and the checks
        config.option.device = default_device()
    pytest_preflight(config)  # a fault of the machine (CUDA, output folder, disk) stops here, never a student's 0
    # The output folder exists, owned by the grader, before any student code runs.
    Path(config.getoption("--grading-out")).mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(Path(config.getoption("--grading-out")) / "junit.xml")
    config.stash[SEED] = grading_seed(load_rubric(), config.getoption("--seed"))
    mode, why = _mode(config)
    if mode != "in-process":
        # The server imports torch and the checks, and readies its namespace, while pytest collects.
        from autograder.preflight import MachineFault
        from autograder.sandbox import Sandbox
        try:
            config.stash[SANDBOX] = Sandbox(
                device=config.getoption("--device"), limits=config.getoption("--limits"), seed=config.stash[SEED],
                isolation=mode, submissions=1).launch()
        except MachineFault as exc:
            raise pytest.UsageError(_refusal(exc)) from None
    from autograder.modes import mode_line
    print(mode_line(mode, why), file=sys.stderr)


def pytest_sessionstart(session):
    """The table lists every failure with its message: pytest's one-line summary of each would repeat it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not _internals(session.config) and session.config.option.reportchars == "fE":
        reporter.reportchars = reporter.reportchars.replace("f", "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed check's report is its message, headed by its rubric id: what the student reads. A
    grader error (an exception that is not the check's verdict) keeps its traceback."""
    report = yield
    scored = item.stash.get(SCORED, None)
    if report.failed and call.when == "call" and scored is not None and not _internals(item.config) \
            and call.excinfo.errisinstance(AssertionError):
        report.longrepr = scored.message
        report.location = (report.location[0], report.location[1], scored.id)
    return report


def pytest_unconfigure(config):
    box = config.stash.get(SANDBOX, None)
    if box is not None:
        box.close()  # when no test asked for the submission (nothing selected, collection failed)


def pytest_generate_tests(metafunc):
    if "rubric_id" in metafunc.fixturenames:
        metafunc.parametrize("rubric_id", list(load_rubric()["checks"]))


@pytest.fixture(scope="session")
def graded(pytestconfig, request):
    """The submission graded once by autograder.score.grade, on the rubric items of the tests
    selected: rubric id -> Scored. In the sandbox launched at configure time, when there is one."""
    from autograder.score import grade
    ids = [item.callspec.params["rubric_id"] for item in request.session.items
           if "rubric_id" in getattr(getattr(item, "callspec", None), "params", {})]
    path = pytestconfig.getoption("--submission") or ROOT / "assignments" / load_rubric()["assignment"]
    options = {"device": pytestconfig.getoption("--device"), "seed": pytestconfig.stash[SEED],
               "on_progress": _on_terminal(pytestconfig)}
    box = pytestconfig.stash.get(SANDBOX, None)
    if box is None:
        result = grade(path, ids, **options)
    else:
        with box:
            result = grade(path, ids, **options, sandbox=box)
    pytestconfig.stash[FINGERPRINT] = result.fingerprint
    return {scored.id: scored for scored in result.scored}


def _on_terminal(config):
    """A training run's progress on the student's terminal, past pytest's capture of the test's
    output: the training check takes a minute or more, and should not look stuck."""
    capture = config.pluginmanager.getplugin("capturemanager")
    state = {"started": False}

    def show(done, total, elapsed):
        with capture.global_and_fixture_disabled():
            if not state["started"]:  # off the line of pytest's dots
                print(file=sys.stdout)
            state["started"] = done < total
            report.printed_to(sys.stdout)(done, total, elapsed)
    return show


@pytest.fixture
def record(pytestconfig, request):
    def add(scored):
        pytestconfig.stash[RESULTS].append(scored)
        request.node.stash[SCORED] = scored
    return add


def pytest_terminal_summary(terminalreporter, config):
    scored = config.stash.get(RESULTS, [])
    if not scored:
        return
    terminalreporter.section("grade")
    terminalreporter.write_line(report.table(scored))
    results, page = report.write_all(scored, config.getoption("--grading-out"), config.stash.get(FINGERPRINT, None))
    terminalreporter.write_line(f"\nwritten: {results}, {page} (open it in a browser: every message, your samples "
                                "and loss curves)")
