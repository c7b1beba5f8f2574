"""Does measuring over --target leak SSH into the figures? And what does a fleet of two cost?

Starts two real SSH servers on 127.0.0.1 (the tests' asyncssh server, sessions in this virtualenv)
and measures the same model with the same fixed settings locally and through --target, in
alternating turns; then one target against a fleet of two (both on this machine, so they share
its cores: the wall ratio shows the parallelism and the contention, not a remote device's speed).

    .venv/bin/python benchmarks/remote_overhead.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import asyncssh

    from mlpack.bench.fleet import benchmark_on_target, benchmark_on_targets
    from mlpack.bench.measure import benchmark
    from mlpack.bench.settings import BenchSettings
    from mlpack.remote.ssh import parse_target
    from tests.helpers.models import make_gemm_mlp
    from tests.remote.ssh_server import LocalSSHServer, session_env, write_client_home

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    settings = BenchSettings(runs=300, duration_s=1.0, warmup=20, threads=(1,))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = make_gemm_mlp(tmp / "mlp.onnx", width=256, hidden=2048)
        key = asyncssh.generate_private_key("ssh-ed25519")
        (tmp / "authorized_keys").write_text(key.export_public_key().decode())
        servers = [
            LocalSSHServer(tmp / f"d{i}", tmp / "authorized_keys", env=session_env(TMPDIR=tmp_name)) for i in range(2)
        ]
        with servers[0], servers[1]:
            os.environ["HOME"] = str(write_client_home(tmp / "home", servers, key=key))
            os.environ.pop("SSH_AUTH_SOCK", None)
            targets = [parse_target(f"ssh://127.0.0.1:{s.port}") for s in servers]
            local, remote = [], []
            for _ in range(args.rounds):  # alternating, so a drift of the machine hits both alike
                local.append(benchmark([model], settings=settings).measurements[0].latency_ms.p50)
                remote.append(
                    benchmark_on_target([model], target=targets[0], settings=settings).measurements[0].latency_ms.p50
                )
            one, two = [], []
            for _ in range(max(2, args.rounds // 2)):
                started = time.perf_counter()
                benchmark_on_targets([model], targets=targets[:1], settings=settings)
                one.append(time.perf_counter() - started)
                started = time.perf_counter()
                fleet = benchmark_on_targets([model], targets=targets, settings=settings)
                two.append(time.perf_counter() - started)
                assert fleet.ok, fleet.failures
    ratios = [r / lo for r, lo in zip(remote, local, strict=True)]
    print(f"model: 256 -> 2048 -> 4 Gemm MLP, batch 1, 1 thread; {settings.runs} runs >= {settings.duration_s} s each")
    print(f"local  p50 per round (ms): {', '.join(f'{v:.4f}' for v in local)}")
    print(f"target p50 per round (ms): {', '.join(f'{v:.4f}' for v in remote)}")
    per_round = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"p50 ratio target/local: median {statistics.median(ratios):.3f} (per round: {per_round})")
    print(f"wall, one target (s): {', '.join(f'{v:.2f}' for v in one)}")
    print(f"wall, fleet of two (s): {', '.join(f'{v:.2f}' for v in two)}")
    print(
        f"wall ratio fleet of two / one: {statistics.median(two) / statistics.median(one):.2f} (2.00 = no parallelism)"
    )


if __name__ == "__main__":
    main()
