"""The packaged application's entry point (PyInstaller freezes this script)."""
import multiprocessing
import sys

from netbuilder.__main__ import main

if __name__ == "__main__":
    # The built-in digits are drawn by worker processes, which a frozen program starts as copies
    # of itself: this makes such a copy run its worker instead of opening another window.
    multiprocessing.freeze_support()
    sys.exit(main())
