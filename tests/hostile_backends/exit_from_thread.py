"""Hostile: a thread started at import ends a test process with status 0 a second later,
whatever that process is doing then."""

import os
import sys
import threading

from poolconf.conformance.backends.numpy_strided import *  # noqa: F403

if "pytest" in sys.modules:
    threading.Timer(1.0, os._exit, (0,)).start()
