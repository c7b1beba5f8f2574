#!/usr/bin/env bash
# Build an emulated aarch64 "device": a Debian 12 (bookworm) arm64 root file system that runs
# under qemu user-mode emulation, with Python 3.11, OpenSSH and mlpack's runtime-only install
# (numpy, onnx, onnxruntime, typer, rich; no torch) in its system python3, and python3-venv so that
# `mlpack devices setup` can put its own venv there.
#
#   setup.sh            build or bring up to date everything under $ARM_HOME (idempotent)
#   setup.sh binfmt     only make sure the kernel runs aarch64 binaries through qemu (serve.sh calls it)
#
# Environment (all optional):
#   ARM_HOME           where everything goes                  (default /tmp/mlpack-arm)
#   MLPACK_SRC         the mlpack checkout to install          (default: the current directory; only read)
#   HOST_PYTHON        a host Python with pip, to fetch wheels (default python3)
#   ARM_MATCH_PYTHON   a host Python (e.g. the project's venv) whose package versions the device
#                      should pin, so host and device run the same numpy/onnx/onnxruntime
#   ARM_PIP_EXTRA      more requirements for the device, space-separated (aarch64 wheels only)
#   ARM_MIRROR         Debian mirror                            (default http://deb.debian.org/debian)
#   ARM_SMOKE_CPU      qemu CPU for the closing smoke test      (default cortex-a72)
#
# Needs root with the right to mount (binfmt_misc, proc) and to unshare a mount namespace.
# Nothing listens on the network here; serve.sh starts the device's sshd on 127.0.0.1 only.
set -euo pipefail

ARM_HOME=${ARM_HOME:-/tmp/mlpack-arm}
MLPACK_SRC=${MLPACK_SRC:-$(pwd)}
HOST_PYTHON=${HOST_PYTHON:-python3}
ARM_MATCH_PYTHON=${ARM_MATCH_PYTHON:-}
ARM_PIP_EXTRA=${ARM_PIP_EXTRA:-}
ARM_MIRROR=${ARM_MIRROR:-http://deb.debian.org/debian}
ARM_SUITE=bookworm
ARM_SMOKE_CPU=${ARM_SMOKE_CPU:-cortex-a72}

ROOTFS=$ARM_HOME/rootfs
BASE_STAMP=$ROOTFS/.mlpack-arm-base
SITE_STAMP=$ROOTFS/.mlpack-arm-site
QEMU=/usr/bin/qemu-aarch64-static
BINFMT=/proc/sys/fs/binfmt_misc

say() { printf '[arm-device] %s\n' "$*" >&2; }
die() { printf '[arm-device] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, mount and chroot need it)."

ensure_host_packages() {
    local missing=()
    [ -x "$QEMU" ] || missing+=(qemu-user-static)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v unshare >/dev/null || missing+=(util-linux)
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The kernel must hand aarch64 ELF files to qemu, with the F flag (interpreter opened at
# registration), so that it also works inside the chroot, where no qemu binary exists.
ensure_binfmt() {
    [ -x "$QEMU" ] || die "$QEMU is missing: run setup.sh (it installs qemu-user-static)."
    if [ ! -e "$BINFMT/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null ||
            die "cannot mount binfmt_misc at $BINFMT (a container without CAP_SYS_ADMIN?); this device needs it."
    fi
    if [ ! -e "$BINFMT/qemu-aarch64" ]; then
        local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
        [ -f "$conf" ] || die "$conf is missing (qemu-user-static should ship it)."
        cat "$conf" > "$BINFMT/register" || die "could not register qemu-aarch64 with binfmt_misc."
        say "registered qemu-aarch64 with binfmt_misc"
    fi
    grep -qx enabled "$BINFMT/qemu-aarch64" || die "binfmt entry qemu-aarch64 is disabled ($BINFMT/qemu-aarch64)."
    grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" ||
        die "binfmt entry qemu-aarch64 lacks the F (fix binary) flag, so it cannot run inside a chroot; remove it (echo -1 > $BINFMT/qemu-aarch64) and rerun."
}

# Unmount anything a killed debootstrap left under the root file system, then refuse to delete
# it if a mount is still there: rm -rf through a bind mount of /sys or /dev would be a disaster.
remove_rootfs() {
    local mounts
    mounts=$(awk -v r="$ROOTFS" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
    if awk -v r="$ROOTFS" '$5 == r || index($5, r "/") == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
        die "something is still mounted under $ROOTFS; unmount it before rerunning."
    fi
    rm -rf --one-file-system "$ROOTFS"
}

build_rootfs() {
    if [ -f "$BASE_STAMP" ]; then
        say "root file system already built ($ROOTFS)"
        return 0
    fi
    [ -e "$ROOTFS" ] && { say "removing an unfinished root file system"; remove_rootfs; }
    mkdir -p "$ARM_HOME/cache/debs"
    say "debootstrap $ARM_SUITE arm64 (second stage runs under qemu: several minutes)"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,openssh-server \
        --cache-dir="$ARM_HOME/cache/debs" "$ARM_SUITE" "$ROOTFS" "$ARM_MIRROR" > "$ARM_HOME/debootstrap.log" 2>&1 ||
        { tail -20 "$ARM_HOME/debootstrap.log" >&2; die "debootstrap failed (log: $ARM_HOME/debootstrap.log)"; }
    rm -f "$ROOTFS"/var/cache/apt/archives/*.deb
    # A generator for /proc/cpuinfo: qemu-user 7.2 shows the host's x86 /proc/cpuinfo, which makes
    # onnxruntime's cpuinfo library crash at import. serve.sh bind-mounts an ARM one in its place,
    # listing the features the emulated CPU really has (from the auxiliary vector qemu fakes).
    mkdir -p "$ROOTFS/usr/local/lib/mlpack-arm"
    cat > "$ROOTFS/usr/local/lib/mlpack-arm/cpuinfo.py" <<'EOF'
import os
import struct
import sys

HWCAP = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop "
         "sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg").split()
HWCAP2 = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm svebf16 "
          "i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme sme_i16i64 sme_f64f64 sme_i8i32 sme_f16f32 sme_b16f32 "
          "sme_f32f32 sme_fa64 wfxt ebf16 sve_ebf16 cssc rprfm sve2p1").split()
PARTS = {"cortex-a53": 0xD03, "cortex-a55": 0xD05, "cortex-a57": 0xD07, "cortex-a72": 0xD08,
         "cortex-a76": 0xD0B, "neoverse-n1": 0xD0C}
cpu = os.environ.get("QEMU_CPU", "max")
aux = dict(struct.iter_unpack("<QQ", open("/proc/self/auxv", "rb").read()))  # faked by qemu
hwcap, hwcap2 = aux.get(16, 0), aux.get(26, 0)
features = [n for i, n in enumerate(HWCAP) if hwcap >> i & 1] + [n for i, n in enumerate(HWCAP2) if hwcap2 >> i & 1]
for n in range(int(sys.argv[1])):
    print(f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: {' '.join(features)}\nCPU implementer\t: 0x41\n"
          f"CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {PARTS.get(cpu, 0xD08):#x}\nCPU revision\t: 0\n")
print(f"Model\t\t: QEMU {cpu} (qemu-aarch64 user-mode emulation, not real hardware)")
EOF
    touch "$BASE_STAMP"
}

PLATFORMS=()
for tag in manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_26 manylinux_2_27 manylinux_2_28 \
    manylinux_2_31 manylinux_2_34 manylinux_2_35 manylinux_2_36 linux; do
    PLATFORMS+=(--platform "${tag}_aarch64")  # bookworm's glibc is 2.36; pip 23 does not expand tags itself
done

# mlpack itself: a wheel built from a copy of the checkout (the checkout is only read).
build_mlpack_wheel() {
    [ -f "$MLPACK_SRC/pyproject.toml" ] && [ -d "$MLPACK_SRC/mlpack" ] || die "MLPACK_SRC=$MLPACK_SRC is not an mlpack checkout."
    local src=$ARM_HOME/build/src dist=$ARM_HOME/build/dist hash
    hash=$(cd "$MLPACK_SRC" && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md mlpack | sha256sum | cut -c1-16)
    if [ -f "$dist/.hash" ] && [ "$(cat "$dist/.hash")" = "$hash" ] && ls "$dist"/mlpack_edge-*.whl >/dev/null 2>&1; then
        return 0
    fi
    say "building the mlpack wheel from $MLPACK_SRC"
    rm -rf "$src" "$dist"
    mkdir -p "$src" "$dist"
    (cd "$MLPACK_SRC" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md mlpack) | tar -C "$src" -xf -
    for f in "$MLPACK_SRC"/LICENSE* "$MLPACK_SRC"/NOTICE*; do [ -f "$f" ] && cp "$f" "$src/"; done
    "$HOST_PYTHON" -m pip wheel -q --no-deps -w "$dist" "$src" > "$ARM_HOME/build/wheel.log" 2>&1 ||
        { tail -20 "$ARM_HOME/build/wheel.log" >&2; die "building the mlpack wheel failed"; }
    echo "$hash" > "$dist/.hash"
}

install_site() {
    local pyver site wheels=$ARM_HOME/wheels constraints=$ARM_HOME/build/constraints.txt stamp
    pyver=""
    for f in "$ROOTFS"/usr/bin/python3.*; do
        [[ "$(basename "$f")" =~ ^python(3\.[0-9]+)$ ]] && { pyver=${BASH_REMATCH[1]}; break; }
    done
    [ -n "$pyver" ] || die "no python3.X in $ROOTFS/usr/bin"
    site=$ROOTFS/usr/local/lib/python$pyver/dist-packages  # on Debian's sys.path, ahead of /usr/lib/python3
    mkdir -p "$wheels"
    : > "$constraints"
    if [ -n "$ARM_MATCH_PYTHON" ]; then
        "$ARM_MATCH_PYTHON" -m pip freeze --all 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' |
            grep -viE '^(mlpack-edge|pip|setuptools|wheel)==' > "$constraints" || true
        say "pinning the device to $(grep -ciE '^(numpy|onnx|onnxruntime)==' "$constraints") core versions of $ARM_MATCH_PYTHON"
    fi
    local whl
    whl=$(ls "$ARM_HOME"/build/dist/mlpack_edge-*.whl)
    local common=("${PLATFORMS[@]}" --python-version "$pyver" --implementation cp --abi "cp${pyver/./}" --only-binary=:all:)
    # shellcheck disable=SC2086
    "$HOST_PYTHON" -m pip download -q -d "$wheels" "${common[@]}" -c "$constraints" "$whl" $ARM_PIP_EXTRA \
        > "$ARM_HOME/build/download.log" 2>&1 ||
        { tail -20 "$ARM_HOME/build/download.log" >&2; die "pip download of aarch64 wheels failed"; }
    stamp=$( (sha256sum "$whl" "$constraints"; ls "$wheels"; echo "$ARM_PIP_EXTRA") | sha256sum | cut -c1-16)
    if [ -f "$SITE_STAMP" ] && [ "$(cat "$SITE_STAMP")" = "$stamp" ]; then
        say "site-packages already up to date"
        return 0
    fi
    say "installing aarch64 wheels into $site"
    rm -rf "$site.new"
    # shellcheck disable=SC2086
    "$HOST_PYTHON" -m pip install -q --no-index --find-links "$wheels" --target "$site.new" --no-warn-conflicts \
        "${common[@]}" -c "$constraints" "$whl" $ARM_PIP_EXTRA > "$ARM_HOME/build/install.log" 2>&1 ||
        { tail -20 "$ARM_HOME/build/install.log" >&2; die "pip install --target failed"; }
    rm -rf "$site.new/bin"  # console scripts with the host's interpreter in their #! line
    rm -rf "$site"
    mv "$site.new" "$site"
    cat > "$ROOTFS/usr/local/bin/mlpack" <<'EOF'
#!/usr/bin/python3
import sys

from mlpack.cli import main

sys.exit(main())
EOF
    chmod 755 "$ROOTFS/usr/local/bin/mlpack"
    echo "$stamp" > "$SITE_STAMP"
}

# Run a command inside the device, as serve.sh's sessions do: a private mount namespace (its
# mounts vanish with it), /proc with an ARM cpuinfo, /sys read-only, chroot into the rootfs.
device_run() {
    local cpu=$1; shift
    local cpuinfo=$ARM_HOME/run/cpuinfo.smoke
    mkdir -p "$ARM_HOME/run"
    QEMU_CPU=$cpu chroot "$ROOTFS" /usr/bin/python3 -I /usr/local/lib/mlpack-arm/cpuinfo.py "$(nproc)" > "$cpuinfo"
    QEMU_CPU=$cpu unshare --mount --propagation private -- /bin/sh -c '
        r=$1; c=$2; shift 2
        set -e
        mount -t proc proc "$r/proc"
        mount --bind "$c" "$r/proc/cpuinfo"
        mount --rbind /sys "$r/sys"
        mount -o remount,bind,ro "$r/sys" 2>/dev/null || true
        exec chroot "$r" "$@"' sh "$ROOTFS" "$cpuinfo" "$@"
}

smoke_test() {
    say "smoke test on the emulated device (QEMU_CPU=$ARM_SMOKE_CPU)"
    device_run "$ARM_SMOKE_CPU" /usr/bin/python3 -c '
import platform, sys
import numpy as np, onnx, onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from importlib.metadata import version
w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "smoke",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]); model.ir_version = 8
y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": np.ones((1, 4), np.float32)})[0]
assert y.tolist() == [[18.0, 22.0, 26.0]], y
mlpack_version = version("mlpack-edge")
print(f"  {platform.machine()}  python {sys.version.split()[0]}  numpy {np.__version__}  onnx {onnx.__version__}  "
      f"onnxruntime {ort.__version__}  mlpack-edge {mlpack_version}  session ok")
'
}

main() {
    local t0=$SECONDS
    ensure_host_packages
    ensure_binfmt
    [ "${1:-}" = binfmt ] && return 0
    [ -z "${1:-}" ] || die "unknown argument '$1' (setup.sh [binfmt])"
    [ "$(uname -m)" = x86_64 ] || say "note: this host is $(uname -m), not x86_64; untested"
    mkdir -p "$ARM_HOME"
    local pid
    pid=$(cat "$ARM_HOME/run/sshd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$(readlink -f "$ROOTFS")" ]; then
        die "the device is running (sshd pid $pid): stop it first ($(dirname "$0")/serve.sh stop)."
    fi
    build_rootfs
    build_mlpack_wheel
    install_site
    smoke_test
    say "done in $((SECONDS - t0)) s; disk: $(du -sh "$ARM_HOME" | cut -f1) in $ARM_HOME (root file system $(du -sh "$ROOTFS" | cut -f1))"
    say "next: $(dirname "$0")/serve.sh start"
}

main "$@"
