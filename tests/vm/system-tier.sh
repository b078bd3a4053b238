#!/bin/bash
# Usage: system-tier.sh --deb PACKAGE [--kernel KDIR] [--tests DIR] [--timeout SECONDS]
#
# The system tier: boots a Debian bookworm guest with systemd and udev from a disk
# image (virtio), installs the package PACKAGE there (offline: its dependencies are
# in the image) and runs DIR/run.sh (default tests/system) as a systemd service at
# boot, across the reboots the tests ask for. Prints the guest console; exits with
# the status the tests report (0 all passed, 1 a failure, 124 timeout).
#
# The root file system is built once with mmdebstrap (Debian's archive must be
# reachable then) and cached, keyed by its package list, in ~/.cache/ublk-test-vm;
# each run writes a fresh ext4 image from it with the kernel's modules
# (KDIR/modules, depmod) and the tests. A busybox initramfs loads virtio_blk and
# switches to the image. TCG unless UBLK_VM_ACCEL=kvm.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() { echo "system-tier: $*" >&2; exit 1; }
# skip REASON: the tier cannot run on this machine (exit 77, ctest's skip); a
# failure under CI=true.
skip() {
	if [[ ${CI:-} == true ]]; then die "cannot run the system tier: $* (a skip is a failure with CI=true)"; fi
	echo "system-tier: SKIP: cannot run the system tier: $*" >&2
	exit 77
}
usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }

deb='' kdir='' tests='' timeout=900
while [[ $# -gt 0 ]]; do
	case $1 in
	--deb) deb=$2; shift 2 ;;
	--kernel) kdir=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $deb ]] || { usage >&2; exit 2; }
[[ -f $deb ]] || die "no package at $deb (cmake --build build --target package)"
tests=${tests:-$(vm_repo_root)/tests/system}
[[ -f $tests/run.sh ]] || die "no $tests/run.sh"
[[ -n $kdir ]] || kdir=$(vm_default_kernel) || die "no test kernel"
[[ -f $kdir/vmlinuz ]] || die "no vmlinuz in $kdir"
for t in qemu-system-x86_64 mmdebstrap busybox mke2fs depmod; do
	command -v "$t" >/dev/null || skip "$t not found (tests/install-deps.sh installs it)"
done
((EUID == 0)) || skip "needs root (the image keeps root-owned files and device nodes)"

# What the guest needs besides the package's own dependencies, which are read
# from the package so that an offline install finds them.
packages=systemd,systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount,procps,fio,man-db,nbdkit
depends=$(dpkg-deb -f "$deb" Depends | tr -d ' ' | sed 's/([^)]*)//g; s/|[^,]*//g')
packages+=,$depends
cache=$vm_cache/ublk-test-vm
mkdir -p "$cache"
key=$(echo "bookworm $packages" | sha256sum | cut -c1-16)
rootfs=$cache/rootfs-$key.tar
if [[ ! -f $rootfs ]]; then
	echo "system-tier: building the Debian root file system ($packages)" >&2
	mmdebstrap --mode=root --variant=apt --format=tar --include="$packages" \
		bookworm "$rootfs.part" >&2 || { rm -f "$rootfs.part"; skip "mmdebstrap failed (is Debian's archive reachable?)"; }
	mv "$rootfs.part" "$rootfs"
fi

vm_scratch

# The kernel release the modules were built for.
release=$(modinfo -F vermagic "$kdir"/modules/ublk_drv.ko* | cut -d' ' -f1)
[[ -n $release ]] || die "cannot read the kernel release from $kdir/modules"

root=$tmp/root
mkdir "$root"
tar -xf "$rootfs" -C "$root"
mkdir -p "$root/lib/modules/$release/extra"
cp "$kdir"/modules/*.ko* "$root/lib/modules/$release/extra/"
depmod -b "$root" "$release"
cp "$deb" "$root/root/"
mkdir -p "$root/opt/system-tests"
cp -a "$tests/." "$root/opt/system-tests/"
echo ublk-system >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# The tests run as a service at every boot until they power the guest off.
cat >"$root/etc/systemd/system/ublk-system-tests.service" <<'EOF'
[Unit]
Description=ublk system tests
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/opt/system-tests/run.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -s ../ublk-system-tests.service "$root/etc/systemd/system/multi-user.target.wants/"
# No login prompt on the console the tests write to.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
image=$tmp/root.img
mke2fs -q -t ext4 -d "$root" -L ublk-system "$image" 3G
rm -rf "$root"

# The initramfs: busybox, virtio_blk, and an init that mounts the image.
initrd=$tmp/initrd
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot}
cp "$(command -v busybox)" "$initrd/bin/busybox"
for m in "$kdir"/modules/virtio_blk.ko*; do
	case $m in
	*.xz) xz -dc "$m" >"$initrd/virtio_blk.ko" ;;
	*) cp "$m" "$initrd/virtio_blk.ko" ;;
	esac
done
cat >"$initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
echo "initramfs: booting the Debian image"
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /virtio_blk.ko
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
chmod +x "$initrd/init"
(cd "$initrd" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip >"$tmp/initrd.cpio.gz"

case ${UBLK_VM_ACCEL:-tcg} in
kvm) accel_args=(-accel kvm -cpu host) ;;
*) accel_args=(-accel "tcg,thread=multi" -cpu "${UBLK_VM_CPU:-max,cx16=off}") ;;
esac
echo "system-tier: booting $kdir ($release) from a Debian image" >&2
mkfifo "$tmp/console"
# Reboots stay in this qemu process (the disk keeps what the tests wrote); the
# tests' poweroff ends it.
timeout -k 10 "$timeout" qemu-system-x86_64 -nodefaults -no-user-config -display none \
	-serial stdio "${accel_args[@]}" -smp 2 -m 2048 \
	-kernel "$kdir/vmlinuz" -initrd "$tmp/initrd.cpio.gz" \
	-append "console=ttyS0 rdinit=/init quiet panic=-1 systemd.firstboot=off systemd.show_status=false" \
	-drive "file=$image,if=virtio,format=raw,discard=unmap" \
	</dev/null >"$tmp/console" 2>&1 &
qemu_pid=$!
rc=255 boots=0
while IFS= read -r line || [[ -n $line ]]; do
	line=${line%$'\r'}
	if [[ $line =~ UBLK_SYSTEM_EXIT=([0-9]+) ]]; then rc=${BASH_REMATCH[1]}; fi
	if [[ $line == "initramfs: booting"* ]]; then boots=$((boots + 1)); fi
	# A guest that keeps rebooting (a panic) is a failure, not a wait for the timeout.
	if ((boots > 4)); then echo "system-tier: the guest rebooted $boots times" >&2; kill "$qemu_pid"; fi
	printf '%s\n' "$line"
done <"$tmp/console"
trc=0
wait "$qemu_pid" || trc=$?
qemu_pid=''
if [[ $trc == 124 || $trc == 137 ]]; then
	echo "system-tier: TIMEOUT: the guest did not finish within $timeout s" >&2
	exit 124
elif [[ $rc == 255 ]]; then
	echo "system-tier: the guest stopped without reporting a result (qemu exit $trc)" >&2
	exit 1
fi
echo "system-tier: tests exit status $rc" >&2
exit "$rc"
