"""The harness's own tests. `slow` marks the few that train networks; they run in CI too."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains networks on the CPU (about a minute)")
