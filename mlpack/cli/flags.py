"""The global options of one invocation (``--debug``, ``-v``, ``-q``, a command's ``--wide``): set by
the options' callbacks, read by error handling, progress and renderers."""

from __future__ import annotations


class _Flags:
    """The global options (``mlpack --debug -q COMMAND``), set by the app's callbacks."""

    debug = False
    verbose = 0
    quiet = False
    wide = False  # every column of a table, whatever the width (a command's --wide)

    def reset(self) -> None:
        self.debug, self.verbose, self.quiet, self.wide = False, 0, False, False


flags = _Flags()
