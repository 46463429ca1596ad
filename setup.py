"""The launchers, chosen where the package is built (pip builds the wheel on the installing machine).

POSIX: plain scripts (scripts/), which pip gives a `#!` line naming the environment's Python. pip's
console_scripts wrapper runs `import re` and `re.sub(...)` before main(): about 5 ms, half a
Python start, of every cache hit. Windows: console_scripts entry points, since pip makes .exe
launchers only for those and git, docker and kubectl look for executables there.
Everything else is in setup.cfg.
"""

import os

from setuptools import setup

LAUNCHERS = {"credhelper": "main", "git-credential-credhelper": "git_main",
             "docker-credential-credhelper": "docker_main"}

if os.name == "nt":
    setup(entry_points={"console_scripts": [f"{name} = credhelper.cli:{func}" for name, func in LAUNCHERS.items()]})
else:
    setup(scripts=[f"scripts/{name}" for name in LAUNCHERS])
