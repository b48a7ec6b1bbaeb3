#!/usr/bin/env python3
"""@PROGRAM@, installed by blacklodge/web because the app does not have it.

Runs the server module with the app's environment first on sys.path and the server's own
distributions (the ones the app lacks) last, so none of the app's packages is shadowed.
"""

import runpy
import sys

for _directory in @DEPENDENCY_DIRS@:
    if _directory not in sys.path:
        sys.path.append(_directory)

sys.argv[0] = "@PROGRAM@"
runpy.run_module("@MODULE@", run_name="__main__", alter_sys=True)
