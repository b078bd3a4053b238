#!/bin/bash
# Usage: install-deps.sh [--fuzz]
#
# Installs, on Debian 12 (bookworm) or newer, every package that building the
# project and running its tests (`ctest --test-dir build`) need: the compiler
# and libraries, and the kernel tier's test bed (QEMU, a static busybox for the
# guest, and the tools copied into it). --fuzz adds what tests/fuzz/run.sh needs
# (clang and its libFuzzer runtime), as CI does. Runs apt-get as root, through
# sudo when not root. This is the one list of packages: the README's set-up
# command and .ci/run both use it.
set -euo pipefail

usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }

packages=(
	# Build.
	g++ cmake make pkg-config
	liburing-dev libnvme-dev libjson-c-dev libspdlog-dev nlohmann-json3-dev libtomlplusplus-dev libgtest-dev
	# Kernel tier: the QEMU guest (tests/vm), its initramfs and the kernel
	# fetched by tests/vm/fetch-kernel.sh when none is given.
	qemu-system-x86 busybox-static cpio xz-utils kmod ca-certificates
	# Kernel tier: the tools the tests run (tests/vm/lib.sh VM_HOST_TOOLS).
	fio e2fsprogs xfsprogs util-linux procps strace nvme-cli btrfs-progs
	# ... and the NBD servers the nbd target's tests serve from (qemu-nbd,
	# qemu-img; nbdkit with its memory plugin) and nbd-client (benchmark).
	qemu-utils nbdkit nbd-client
	# System tier: the Debian guest's root file system (tests/vm/system-tier.sh).
	mmdebstrap
)
case ${1:-} in
'') ;;
--fuzz) packages+=(clang libclang-rt-dev) ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac
[[ $# -le 1 ]] || { usage >&2; exit 2; }

# as_root COMMAND...: COMMAND as root (sudo resets the environment, hence env).
as_root() {
	if [[ $EUID == 0 ]]; then
		env DEBIAN_FRONTEND=noninteractive "$@"
	elif command -v sudo >/dev/null; then
		sudo env DEBIAN_FRONTEND=noninteractive "$@"
	else
		echo "install-deps.sh: not root and sudo is not installed: run it as root" >&2
		exit 1
	fi
}
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${packages[@]}"
