"""What every stage stands on: ONNX I/O and sessions, signatures, input specs, data files, the
crash-safe probe, output comparison, metrics, atomic writes and hashes, TOML, device profiles."""
