"""Hostile: loads fine on its own, but ends the process with status 0 when imported
inside a pytest run (so a loader check passes and every test process dies)."""

import os
import sys

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403

if "pytest" in sys.modules:
    os._exit(0)
