"""``python -m mlpack.cli``: the same as the ``mlpack`` command (the device agent and tests run it so)."""

from mlpack.cli import main

main()
