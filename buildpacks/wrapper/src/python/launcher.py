#!/usr/bin/env python3
# The `blacklodge` command, written by the blacklodge/wrapper buildpack.
#
# The harness package comes first on sys.path (this image's harness, whatever else is
# installed). Its dependencies come last, after the app's own site-packages, so a package
# the app installed is always the one imported; the build checked that those versions
# satisfy the harness.
import site
import sys

sys.path.insert(0, @HARNESS_DIR@)
for _directory in @DEPENDENCY_DIRS@:
    site.addsitedir(_directory)

from blacklodge_harness.cli import main  # noqa: E402

sys.exit(main())
