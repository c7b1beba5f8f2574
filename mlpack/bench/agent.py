"""The device's entry point for ``--target`` (``python3 -m mlpack.bench.agent``), kept where devices and
hosts of the previous version look for it; the agent itself lives in :mod:`mlpack.remote.agent`."""

from mlpack.remote.agent import main

if __name__ == "__main__":
    raise SystemExit(main())
