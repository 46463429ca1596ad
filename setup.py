"""The launchers, chosen where the package is built (pip builds the wheel on the installing machine).

POSIX: plain scripts (scripts/), which pip gives a `#!` line naming the environment's Python. pip's
console_scripts wrapper runs `import re` and `re.sub(...)` before main(): about 5 ms, half a
Python start, of every cache hit. Windows: console_scripts entry points, since pip makes .exe
launchers only for those and git, docker and kubectl look for executables there. Nor where the
interpreter's path cannot be a `#!` line (a space or tab, where the kernel cuts it, or longer than 127
bytes, 512 on macOS): pip writes it there as it is, while its console_scripts wrappers (distlib) then
start through /bin/sh.
Everything else is in setup.cfg.
"""

import os
import sys

from setuptools import setup

LAUNCHERS = {"credhelper": "main", "git-credential-credhelper": "git_main",
             "docker-credential-credhelper": "docker_main"}
# distlib's rule for a plain `#!` line (ScriptMaker._build_shebang), on the interpreter pip writes there
_SHEBANG = f"#!{sys.executable}\n".encode(sys.getfilesystemencoding(), "surrogateescape")
PLAIN_SHEBANG = (b" " not in _SHEBANG and b"\t" not in _SHEBANG
                 and len(_SHEBANG) <= (512 if sys.platform == "darwin" else 127))

if os.name == "nt" or not PLAIN_SHEBANG:
    setup(entry_points={"console_scripts": [f"{name} = credhelper.cli:{func}" for name, func in LAUNCHERS.items()]})
else:
    setup(scripts=[f"scripts/{name}" for name in LAUNCHERS])
