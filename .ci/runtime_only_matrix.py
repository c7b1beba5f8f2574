"""The runtime-only install's command matrix (run by .ci/runtime_only.sh inside the fresh virtualenv).

``before-remote``: every runtime command on a Paddle-style graph (-1 dims, Constant weights), and
the commands that need an extra exit 2 naming it. ``remote``: with asyncssh (the ``remote`` extra)
added, ``--target`` against a local SSH server whose sessions run this same install.
Prints one line per command: exit code, expected, the command; exits 1 on any mismatch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from exporter_graphs import paddle_style  # copied beside this file; no checkout on the path

HERE = Path.cwd()
MLPACK = str(Path(sys.executable).parent / "mlpack")
FAST = ["--runs", "3", "--duration", "0", "--warmup", "1"]
failures: list[str] = []


def run(expected: int, *args: str, says: str = "", env: dict[str, str] | None = None) -> None:
    done = subprocess.run([MLPACK, *args], capture_output=True, text=True, env=env, timeout=300)
    output = done.stdout + done.stderr
    ok = done.returncode == expected and (not says or says in output)
    print(f"{'ok ' if ok else 'BAD'} exit {done.returncode} (want {expected})  mlpack {' '.join(args)[:90]}")
    if not ok:
        failures.append(f"mlpack {' '.join(args)}: exit {done.returncode}\n{output[-1500:]}")


def setup() -> tuple[Path, Path]:
    model = paddle_style(HERE / "paddle.onnx")
    data = HERE / "data.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32))
    (HERE / "budgets.toml").write_text('[budget]\nmax_size_mb = 10\nmax_latency_ms = { p95 = 10000 }\n')
    return model, data


def before_remote() -> None:
    model, data = setup()
    run(0, "inspect", str(model))
    run(0, "optimize", str(model), "-o", "w.onnx", "--no-simplify", "--quantize", "weights")
    run(0, "optimize", str(model), "-o", "d.onnx", "--no-simplify", "--quantize", "dynamic", "--data", str(data))
    run(0, "optimize", str(model), "-o", "s.onnx", "--quantize", "weights", says="onnxsim is not installed")
    run(2, "optimize", str(model), "-o", "i.onnx", "--no-simplify", "--quantize", "int4", says="[optimize]")
    run(0, "bench", str(model), *FAST)
    run(0, "bench", str(model), *FAST, "--data", str(data))
    run(0, "check", str(model), "-b", "budgets.toml", "--data", str(data), *FAST)
    run(0, "pack", str(model), "-o", "m.mlpack", "--data", str(data))
    run(0, "verify", "m.mlpack", "--run")
    run(0, "run", "m.mlpack", "--data", str(data), "-o", "out.npz")
    run(0, "drift", "m.mlpack", "--data", str(data))
    run(2, "export", "model.py:make", "-o", "e.onnx", "--input", "x:1x4", says="[export]")
    run(2, "bench", str(model), *FAST, "--target", "ssh://127.0.0.1:1", says="[remote]")


def remote() -> None:
    import asyncssh
    from ssh_server import LocalSSHServer, session_env, write_client_home

    model, data = setup()
    key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = HERE / "authorized_keys"
    authorized.write_text(key.export_public_key().decode())
    (HERE / "device" / "tmp").mkdir(parents=True, exist_ok=True)
    server = LocalSSHServer(HERE / "device", authorized, env=session_env(TMPDIR=str(HERE / "device" / "tmp")))
    with server:
        home = write_client_home(HERE / "home", [server], key=key)
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"} | {"HOME": str(home)}
        target = f"ssh://127.0.0.1:{server.port}"
        run(0, "bench", str(model), *FAST, "--target", target, env=env)
        run(0, "check", str(model), "-b", "budgets.toml", "--data", str(data), *FAST, "--target", target, env=env)
        run(0, "pack", str(model), "-o", "m.mlpack", env=env)
        run(0, "verify", "m.mlpack", "--run", "--target", target, env=env)
        run(0, "run", "m.mlpack", "--data", str(data), "-o", "out.npz", "--target", target, env=env)


if __name__ == "__main__":
    {"before-remote": before_remote, "remote": remote}[sys.argv[1]]()
    if failures:
        print("\n\n".join(failures), file=sys.stderr)
        sys.exit(1)
