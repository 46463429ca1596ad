"""A local emulator of Google's auth endpoints: OAuth token, IAM Credentials, STS, metadata, storage reads.

    from credhelper.emulator import Emulator
    emulator, files = Emulator.sample(tmp_dir)
    with emulator:
        ...  # point clients at emulator.url

The world file format is documented in credhelper.emulator.world; faults in .faults;
test controls in .server; pytest fixtures in .pytest_plugin.
"""

from credhelper.emulator.server import Emulator

__all__ = ["Emulator"]
