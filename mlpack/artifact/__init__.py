"""The .mlpack artifact: pack, verify, run, its manifest, and safe archive extraction."""
