#!/bin/bash
# Usage: kernel-tier.sh --prefix STAGE [--kernel KDIR] [--vcpus N] [--tests TESTDIR]
#
# Runs the kernel tier of the tests, TESTDIR/run.sh (TESTDIR defaults to tests/kernel),
# against the install tree STAGE:
# - natively, when /dev/ublk-control exists and we are root: with STAGE/sbin first in
#   PATH and UBLK_PREFIX=STAGE;
# - otherwise in a QEMU guest (run.sh): STAGE at /opt/ublk (UBLK_PREFIX=/opt/ublk),
#   TESTDIR at /opt/tests, and emulated NVMe drives (sparse images): 1 GiB
#   /dev/disk/by-id/nvme-ublktest0 with 512-byte and nvme-ublktest1 with 4096-byte
#   logical blocks, and a 64 MiB nvme-ublktest2 formatted with 8 bytes of metadata
#   per 512-byte block (no protection information); 1 GiB zoned (ZNS) namespaces
#   nvme-ublktest3 with 64 MiB zones (at most 4 open, 6 active) and nvme-ublktest4 with
#   96 MiB zones (not a power of two: the kernel leaves its block device at size 0);
#   a 256 MiB nvme-ublktest5 with 8 bytes of metadata holding T10 PI type 1, and a
#   256 MiB nvme-ublktest6 with 16 bytes holding PI type 1 with a 64-bit guard. Their
#   char devices are /dev/disk/by-id/ng-ublktest0 ... ng-ublktest6. The guest boots
#   with nvme.poll_queues=1, so the controllers have a polled queue.
# KDIR defaults as in run.sh. The timeout for the guest is $UBLK_VM_TIMEOUT (default
# 2700 s: a 2-core host shared with other VMs runs the tier 3x slower).
#
# With CI=true, UBLK_TEST_STRICT_SKIPS=1 goes to run.sh: a test that skips without a
# line in TESTDIR/expected-skips for the running kernel fails.
#
# Exit status: that of TESTDIR/run.sh (124 on timeout); 77 (skipped) when neither
# way is possible (no qemu, no busybox, no kernel), printing one line that says why
# and what to install, but 1 when CI=true, since a skipped kernel tier is a failure
# in CI.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }
skip() {
	if [[ ${CI:-} == true ]]; then
		echo "kernel-tier: FAIL: cannot run the kernel tier: $* (a skip is a failure with CI=true)" >&2
		exit 1
	fi
	echo "kernel-tier: SKIP: cannot run the kernel tier: $*" >&2
	# ctest keeps a skipped test's output to itself (ctest -V shows it): say
	# it on the terminal too, when there is one and stderr is not it.
	if [[ ! -t 2 ]]; then
		{ echo "kernel-tier: SKIP: cannot run the kernel tier: $*" >/dev/tty; } 2>/dev/null || true
	fi
	exit 77
}
[[ ${CI:-} != true ]] || export UBLK_TEST_STRICT_SKIPS=1

stage='' kdir='' vcpus=2 tests=''
while [[ $# -gt 0 ]]; do
	case $1 in
	--prefix) stage=$2; shift 2 ;;
	--kernel) kdir=$2; shift 2 ;;
	--vcpus) vcpus=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $stage ]] || { usage >&2; exit 2; }
stage=$(cd "$stage" && pwd)
tests=$(cd "${tests:-$(vm_repo_root)/tests/kernel}" && pwd)
[[ -f $tests/run.sh ]] || { echo "kernel-tier: no $tests/run.sh" >&2; exit 1; }

if [[ -e /dev/ublk-control && $EUID == 0 ]]; then
	echo "kernel-tier: ublk_drv is loaded here; running natively" >&2
	PATH=$stage/sbin:$PATH UBLK_PREFIX=$stage exec "$tests/run.sh"
fi

install="install the test bed with tests/install-deps.sh"
command -v qemu-system-x86_64 >/dev/null ||
	skip "no ublk_drv here to run as root (/dev/ublk-control), and no qemu-system-x86_64 for the test VM; $install (qemu-system-x86)"
command -v busybox >/dev/null || skip "no busybox for the test VM; $install (busybox-static)"
if [[ -z $kdir ]]; then
	kdir=$(vm_default_kernel) ||
		skip "no test kernel: fetch-kernel.sh could not download one; set UBLK_TEST_KERNEL to a folder with vmlinuz, config and modules/"
fi
[[ -f $kdir/vmlinuz ]] || skip "no test kernel at $kdir (no vmlinuz)"

exec "$vm_dir/run.sh" --kernel "$kdir" --prefix "$stage" --tests "$tests" --vcpus "$vcpus" \
	--nvme 1024 --nvme 1024:4096 --nvme 64:512:8 \
	--nvme 1024,zoned=true,zoned.zone_size=64M,zoned.max_open=4,zoned.max_active=6 \
	--nvme 1024,zoned=true,zoned.zone_size=96M \
	--nvme 256:512:8,pi=1 --nvme 256:512:16,pi=1,pif=2 \
	--append nvme.poll_queues=1 \
	--timeout "${UBLK_VM_TIMEOUT:-2700}" -- /opt/tests/run.sh
