#!/bin/bash
# Usage: run.sh --prefix STAGE [--kernel KDIR] [--tests TESTDIR] [--vcpus N] [--mem MiB]
#               [--nvme SIZE_MiB[:LBA_SIZE[:MS]][,PROP=VALUE...]]... [--append 'KERNEL ARGS']
#               [--timeout SECONDS] -- COMMAND...
#
# Boots a test kernel in QEMU with the install tree STAGE at /opt/ublk and TESTDIR at
# /opt/tests (see build-initramfs.sh for the guest's contents), runs COMMAND there as
# root, streams the guest console to stdout and exits with COMMAND's exit status.
# COMMAND's words are joined with spaces and run by the guest's sh, as ssh does.
# Environment variables named UBLK_TEST_* are passed on to COMMAND.
#
#   --kernel KDIR    folder with vmlinuz, config, modules/*.ko.xz; default
#                    $UBLK_TEST_KERNEL, else ../shared/vm/linux-7.2.13-cloud next to the
#                    checkout, else Debian's cloud kernel fetched by fetch-kernel.sh
#   --tests TESTDIR  default: tests/kernel of this checkout
#   --vcpus N        default 2;  --mem MiB  default 2048
#   --nvme SIZE[:LBA[:MS]][,PROP=VALUE...]
#                    adds an emulated NVMe controller with one namespace on a fresh
#                    sparse image of SIZE MiB (deleted afterwards), LBA size 512 by
#                    default, MS bytes of metadata per block (default 0); each
#                    PROP=VALUE is a property of QEMU's nvme-ns (zoned=true,
#                    zoned.zone_size=64M, pi=1, ...). The Nth --nvme (from 0) has serial ublktestN and is
#                    /dev/disk/by-id/nvme-ublktestN (block) and ng-ublktestN (char).
#                    The kernel probes controllers in parallel, so with several drives
#                    /dev/nvme0n1 (/dev/ng0n1) is not necessarily the first one.
#   --append ARGS    extra kernel command line
#   --timeout S      default 1200; on timeout qemu is killed and the exit status is 124
#
# The initramfs is cached, keyed by its content, in ~/.cache/ublk-test-vm (or under
# $XDG_CACHE_HOME). KVM is used when a probe boot with it works (result cached there;
# UBLK_VM_ACCEL=kvm or tcg skips the probe), else TCG with `-cpu max,cx16=off`: with
# cmpxchg16b, QEMU 7.2's multi-threaded TCG corrupts the 6.12 kernel's SLUB now and then
# (double faults in __kmalloc at boot). UBLK_VM_CPU=MODEL overrides the CPU model.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() { echo "run.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }

kdir='' stage='' tests='' vcpus=2 mem=2048 timeout=1200 append='' nvmes=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernel) kdir=$2; shift 2 ;;
	--prefix) stage=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--vcpus) vcpus=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--nvme) nvmes+=("$2"); shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $stage && $# -gt 0 ]] || { usage >&2; exit 2; }
[[ -d $stage ]] || die "no install tree at $stage"
tests=${tests:-$(vm_repo_root)/tests/kernel}
[[ -d $tests ]] || die "no test folder at $tests"
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (install qemu-system-x86)"
[[ -n $kdir ]] || kdir=$(vm_default_kernel) || die "no test kernel"
[[ -f $kdir/vmlinuz ]] || die "no vmlinuz in $kdir"

vm_scratch

# The initramfs, rebuilt only when something that goes into it changed.
initramfs_key() {
	local d t p
	cat "$vm_dir/build-initramfs.sh" "$vm_dir/init" "$vm_dir/lib.sh"
	for d in "$kdir/modules" "$stage" "$tests"; do
		echo "== ${d##*/}"
		(cd "$d" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
	done
	for t in busybox "${VM_HOST_TOOLS[@]}"; do
		if p=$(command -v "$t"); then stat -L -c '%n %s %Y' "$p"; fi
	done
	if [[ -f /etc/ld.so.cache ]]; then stat -c '%n %Y' /etc/ld.so.cache; fi
}
cache=$vm_cache/ublk-test-vm
mkdir -p "$cache"
key=$(initramfs_key | sha256sum | cut -c1-16)
initramfs=$cache/initramfs-$key.cpio.gz
if [[ ! -f $initramfs ]]; then
	echo "run.sh: building the initramfs" >&2
	"$vm_dir/build-initramfs.sh" --kernel "$kdir" --prefix "$stage" --tests "$tests" --out "$initramfs"
	# Keep the six most recently used.
	find "$cache" -name 'initramfs-*.cpio.gz' -printf '%T@ %p\n' | sort -rn | tail -n +7 |
		cut -d' ' -f2- | xargs -r rm -f
fi
touch "$initramfs"

# The initramfs plus a small second archive holding /opt/cmd.
make_initrd() { # OUT COMMAND-TEXT
	mkdir -p "$tmp/cmd/opt"
	printf '%s\n' "$2" >"$tmp/cmd/opt/cmd"
	cat "$initramfs" >"$1"
	(cd "$tmp/cmd" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip >>"$1"
}

# Boots the guest, printing its console; exits with the guest command's status.
# Sets cmd_started when the guest's init said it starts the command.
# Usage: boot TIMEOUT INITRD ACCEL-ARGS...
boot() {
	local limit=$1 initrd=$2 rc=255 line trc
	shift 2
	cmd_started=0
	mkfifo "$tmp/console"
	timeout -k 10 "$limit" "$qemu" -nodefaults -no-user-config -display none -no-reboot \
		-serial stdio "$@" -smp "$vcpus" -m "$mem" -kernel "$kdir/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 rdinit=/init quiet panic=-1 $append" "${drives[@]}" \
		</dev/null >"$tmp/console" 2>&1 &
	qemu_pid=$!
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		if [[ $line == UBLK_VM_CMD_START ]]; then
			cmd_started=1
			continue
		fi
		if [[ $line =~ ^(.*)UBLK_VM_EXIT=([0-9]+)$ ]]; then
			rc=${BASH_REMATCH[2]} line=${BASH_REMATCH[1]}
			[[ -n $line ]] || continue
		fi
		# A KVM internal error leaves the VM paused until the timeout; stop it now.
		if [[ $line == *"KVM internal error"* ]]; then kill "$qemu_pid"; fi
		printf '%s\n' "$line"
	done <"$tmp/console"
	trc=0
	wait "$qemu_pid" || trc=$?
	qemu_pid=''
	rm -f "$tmp/console"
	if [[ $trc == 124 || $trc == 137 ]]; then
		echo "run.sh: TIMEOUT: the guest did not finish within $limit s; qemu was killed" >&2
		return 124
	elif [[ $rc == 255 ]]; then
		echo "run.sh: the guest stopped without reporting an exit status (qemu exit $trc; kernel panic?)" >&2
		return 1
	fi
	return "$rc"
}

# KVM when a trivial boot with it works (nested KVM may fail with "emulation failure").
choose_accel() {
	local probe_key file
	probe_key=$(echo "$(uname -r) $("$qemu" --version | head -n1) $(ls -l /dev/kvm 2>&1)" | sha256sum | cut -c1-16)
	file=$cache/accel-$probe_key
	if [[ -n ${UBLK_VM_ACCEL:-} ]]; then
		accel=$UBLK_VM_ACCEL
	elif [[ -f $file ]]; then
		accel=$(cat "$file")
	else
		accel=tcg
		if [[ -r /dev/kvm && -w /dev/kvm ]]; then
			echo "run.sh: probing KVM" >&2
			make_initrd "$tmp/probe.cpio.gz" true
			if boot 60 "$tmp/probe.cpio.gz" -accel kvm -cpu host >"$tmp/probe.log" 2>&1; then
				accel=kvm
			fi
		fi
		echo "$accel" >"$file"
	fi
}
drives=()
choose_accel
case $accel in
kvm) accel_args=(-accel kvm -cpu "${UBLK_VM_CPU:-host}") ;;
*) accel_args=(-accel "tcg,thread=multi" -cpu "${UBLK_VM_CPU:-max,cx16=off}") ;;
esac

for i in "${!nvmes[@]}"; do
	geometry=${nvmes[i]%%,*} props=''
	[[ ${nvmes[i]} != *,* ]] || props=,${nvmes[i]#*,}
	IFS=: read -r size lba ms <<<"$geometry"
	lba=${lba:-512} ms=${ms:-0}
	[[ $size =~ ^[0-9]+$ && $lba =~ ^[0-9]+$ && $ms =~ ^[0-9]+$ &&
		$props =~ ^(,[a-z_.]+=[A-Za-z0-9_.]+)*$ ]] ||
		die "bad --nvme ${nvmes[i]} (want SIZE_MiB[:LBA_SIZE[:METADATA_BYTES]][,PROP=VALUE...])"
	truncate -s "${size}M" "$tmp/nvme$i.img"
	drives+=(-drive "file=$tmp/nvme$i.img,if=none,id=nv$i,format=raw,discard=unmap"
		-device "nvme,id=nvme$i,serial=ublktest$i"
		-device "nvme-ns,drive=nv$i,bus=nvme$i,nsid=1,logical_block_size=$lba,physical_block_size=$lba,ms=$ms$props")
done

cmd=''
while IFS= read -r var; do
	cmd+="export $var=$(printf '%q' "${!var}")"$'\n'
done < <(compgen -e | grep '^UBLK_TEST_' || true)
cmd+="$*"
make_initrd "$tmp/initrd.cpio.gz" "$cmd"
echo "run.sh: booting $kdir ($accel, $vcpus vCPUs, $mem MiB)" >&2
start=$SECONDS
# Multi-threaded TCG now and then crashes a kernel while it boots (an int3
# Oops from text patching, seen on 7.2): before the command ran, so booting
# again is safe; up to two more times.
for attempt in 1 2 3; do
	rc=0
	boot "$timeout" "$tmp/initrd.cpio.gz" "${accel_args[@]}" || rc=$?
	[[ $rc == 1 && $cmd_started == 0 && $attempt != 3 ]] || break
	echo "run.sh: the kernel stopped while booting, before the command ran; booting again" >&2
done
echo "run.sh: guest exit status $rc after $((SECONDS - start)) s" >&2
exit "$rc"
