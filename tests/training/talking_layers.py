"""`python tests/training/talking_layers.py COMMAND ...`: netbuilder's command line in a process
where every Linear layer talks the way torch's layers do when they are made (LSTM's dropout warning)
and when they run: a UserWarning, a line through torch's log handlers, lines that C code writes to
the file descriptors. For the tests that what libraries say reaches the log file, never the terminal."""
import logging
import os
import sys
import warnings

import torch

from netbuilder.__main__ import cli_main

LIBRARY_LINES = ("a layer's UserWarning", "a line through torch's log handlers", "C code's line on stderr",
                 "C code's line on stdout")


def _talk() -> None:
    warnings.warn(LIBRARY_LINES[0], UserWarning)
    logging.getLogger("torch.nn").warning(LIBRARY_LINES[1])
    os.write(2, LIBRARY_LINES[2].encode() + b"\n")
    os.write(1, LIBRARY_LINES[3].encode() + b"\n")


def _talking(method):
    def talk_and_work(self, *args, **kwargs):
        _talk()
        return method(self, *args, **kwargs)
    return talk_and_work


if __name__ == "__main__":
    torch.nn.Linear.__init__ = _talking(torch.nn.Linear.__init__)
    torch.nn.Linear.forward = _talking(torch.nn.Linear.forward)
    sys.exit(cli_main(sys.argv[1:]))
