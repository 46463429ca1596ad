"""pytest fixtures: one sample-world emulator per session, reset before each test that asks for it.

    emulator_session  the session's Emulator (serving); state accumulates across tests
    emulator          the same Emulator with counters, faults and audit trail cleared
    sample            SampleFiles: paths (world, source_key, authorized_user, external_account,
                      subject_token) and names (source, delegate_b, delegate_c, target, user, bucket, ...)

Register with `pytest_plugins = ["credhelper.emulator.pytest_plugin"]` in conftest.py.
"""

import pytest

from credhelper.emulator import Emulator


@pytest.fixture(scope="session")
def _emulator_with_sample(tmp_path_factory):
    emulator, files = Emulator.sample(tmp_path_factory.mktemp("emulator-sample"))
    with emulator:
        yield emulator, files


@pytest.fixture(scope="session")
def emulator_session(_emulator_with_sample):
    return _emulator_with_sample[0]


@pytest.fixture(scope="session")
def sample(_emulator_with_sample):
    return _emulator_with_sample[1]


@pytest.fixture
def emulator(emulator_session):
    emulator_session.reset()
    yield emulator_session
    emulator_session.faults.clear()
