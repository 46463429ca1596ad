import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["credhelper.emulator.pytest_plugin"]

# CI (CI=true, as .ci/run is run) explores the same examples on every run, so that a landing is
# decided by the change, not by which random inputs came up; run locally, each run explores anew.
# Neither judges speed: a loaded machine must not fail a property test for being slow.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
