pytest_plugins = ["credhelper.emulator.pytest_plugin"]
