"""A local emulator of Google's auth endpoints: OAuth token, IAM Credentials, STS, metadata, storage reads.

    from credhelper.emulator import Emulator
    emulator, files = Emulator.sample(tmp_dir)
    with emulator:
        ...  # point clients at emulator.url

The world file format is documented in credhelper.emulator.world; faults in .faults;
test controls in .server; pytest fixtures in .pytest_plugin.

The emulator needs packages credhelper itself does not (it signs and verifies JWTs with
`cryptography`): they are the `emulator` extra, `pip install 'credhelper[emulator]'`.
`missing_dependency()` names one that is not installed, so commands can say so before importing.
"""

INSTALL_HINT = "pip install 'credhelper[emulator]'"
DEPENDENCIES = ("cryptography",)

__all__ = ["Emulator", "INSTALL_HINT", "missing_dependency"]


def missing_dependency():
    """The name of a package the emulator needs that cannot be imported, or None."""
    import importlib

    for name in DEPENDENCIES:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def __getattr__(name):  # Emulator on first use: importing the package alone needs no extra
    if name == "Emulator":
        from credhelper.emulator.server import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
