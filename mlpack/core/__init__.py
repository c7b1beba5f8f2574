"""What every stage stands on, in four groups:

- the model: ONNX I/O and sessions (``onnxio``), signatures and input specs (``signature``,
  ``inputspec``, ``batching``), what a model holds (``modelinfo``);
- judging outputs: output comparison (``fidelity``) and task metrics (``metrics``);
- files and values from users: atomic writes and hashes (``fileio``), one validator for paths and
  numbers (``validate``), TOML with file:line errors (``tomlfile``), source references
  (``sourceref``), device profiles (``devices``);
- the process: system information (``sysinfo``), the version, signals, quiet native logs, progress.
"""
