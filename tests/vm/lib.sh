# Helpers shared by the tests/vm scripts (sourced, not run).
# shellcheck shell=bash

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}

# Host programs copied into the guest, besides busybox (their libraries come along).
# shellcheck disable=SC2034 # used by the scripts that source this file
VM_HOST_TOOLS=(bash fio mkfs.ext4 mke2fs e2fsck resize2fs blkdiscard mkfs.xfs xfs_repair losetup strace
	pgrep pkill setpriv mount umount blkzone nvme mkfs.btrfs btrfs qemu-nbd qemu-img nbdkit nbd-client)
# nbdkit dlopens its plugins: the ones the tests use, copied with their
# libraries (build-initramfs.sh).
VM_NBDKIT_PLUGINS=(memory)

vm_repo_root() { (cd "$vm_dir/../.." && pwd); }

# The test kernel folder to use when none is given: $UBLK_TEST_KERNEL, else the kernel
# shared next to the checkout, else Debian's current cloud kernel (fetch-kernel.sh).
vm_default_kernel() {
	local shared
	shared=$(vm_repo_root)/../shared/vm/linux-7.2.13-cloud
	if [[ -n ${UBLK_TEST_KERNEL:-} ]]; then
		echo "$UBLK_TEST_KERNEL"
	elif [[ -f $shared/vmlinuz ]]; then
		(cd "$shared" && pwd)
	else
		"$vm_dir/fetch-kernel.sh" "$vm_cache/ublk-test-kernels"
	fi
}

# vm_scratch: a scratch folder $tmp, removed at exit together with the qemu
# process whose pid the caller keeps in $qemu_pid.
vm_scratch() {
	tmp=$(mktemp -d)
	qemu_pid=''
	trap vm_scratch_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}
# shellcheck disable=SC2317 # run by the EXIT trap
vm_scratch_cleanup() {
	if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
