#!/bin/bash
# Usage: build-initramfs.sh --kernel KDIR --prefix STAGE --tests TESTDIR --out FILE.cpio.gz
#                           [--cmd 'COMMAND']
#
# Builds the initramfs of the kernel-tier test VM (root not needed):
#   /bin/busybox + all applet links  (busybox-static; /bin, /sbin, /lib, /lib64 -> usr/),
#                                    except where a host tool below takes the name;
#                                    /bin/sh is bash (busybox sh prefers its applets)
#   /lib/modules-test/*.ko           KDIR/modules/*.ko.xz, decompressed for busybox insmod
#   /lib/modules-extra/*.ko          KDIR/modules-extra/*.ko.xz (when there), for tests to insmod
#   /opt/ublk                        the install tree STAGE (sbin/ublk, libexec/...)
#   /opt/tests                       TESTDIR
#   host tools at their host paths   VM_HOST_TOOLS in lib.sh: bash fio mkfs.ext4 e2fsck
#                                    mkfs.xfs xfs_repair blkdiscard losetup strace setpriv
#                                    mount umount qemu-nbd qemu-img nbdkit ... (missing
#                                    ones are skipped); nbdkit's plugins named in
#                                    VM_NBDKIT_PLUGINS (dlopen'ed, so copied explicitly)
#   their shared libraries and those of every ELF file in STAGE and TESTDIR (via ldd)
#   /etc/passwd, /etc/group          root and nobody (uid/gid 65534, group nogroup)
#   /etc/hosts, /etc/mke2fs.conf     localhost; the host's mke2fs defaults
#   /init                            see below
#
# The guest /init mounts proc, sys, devtmpfs, devpts, tmpfs on /tmp, /run, /dev/shm;
# loads the modules (null_blk with nr_devices=0 and loop with max_loop=0, so neither
# creates devices by itself; modprobe applies the same options) except xfs, which alone
# takes ~7 s to load under TCG: the kernel loads it on the first xfs mount (or run
# `modprobe xfs`); mounts configfs on /sys/kernel/config; links the NVMe drives by
# serial: /dev/disk/by-id/nvme-SERIAL (block) and ng-SERIAL (char, io_uring passthrough);
# sets
#   PATH=/opt/ublk/sbin:/opt/ublk/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
#   UBLK_PREFIX=/opt/ublk
# then runs `sh /opt/cmd` in / with its output on the console, prints a line
# `UBLK_VM_EXIT=<exit status>` and powers off. Without /opt/cmd it starts a shell.
# /opt/cmd comes from --cmd, or from a second cpio.gz appended to this one (the kernel
# unpacks concatenated archives in order, later files win) as run.sh does.
#
# Running a command unprivileged in the guest: (util-linux, copied from the host)
#   setpriv --reuid=65534 --regid=65534 --clear-groups CMD ARGS...
# or busybox's `su -s /bin/sh nobody -c 'CMD ARGS...'`. (Debian's busybox has no
# setuidgid/chpst, and its own setpriv applet lacks --reuid/--regid.)
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() { echo "build-initramfs.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }

kdir='' stage='' tests='' out='' cmd=''
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernel) kdir=$2; shift 2 ;;
	--prefix) stage=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--cmd) cmd=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n $kdir && -n $stage && -n $tests && -n $out ]] || { usage >&2; exit 2; }
[[ -d $kdir/modules ]] || die "no kernel folder at $kdir"
[[ -d $stage ]] || die "no install tree at $stage"
[[ -d $tests ]] || die "no test folder at $tests"
busybox=$(command -v busybox) || die "busybox not found (install busybox-static)"

root=$(mktemp -d)
tmp_out=$out.tmp.$$
trap 'rm -rf "$root" "$tmp_out"' EXIT
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,proc,sys,dev,tmp,run,root,mnt,opt}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
mkdir -p "$root/lib/modules-test"

# Programs first, busybox applet links only where no real program was copied.
elfs=()
for t in "${VM_HOST_TOOLS[@]}"; do
	if p=$(command -v "$t"); then
		cp -L --parents "$p" "$root"
		elfs+=("$p")
	else
		echo "build-initramfs.sh: warning: $t not found on the host, not included" >&2
	fi
done
# nbdkit's plugins are loaded with dlopen, which ldd cannot see.
if nbdkit=$(command -v nbdkit); then
	plugins=$("$nbdkit" --dump-config 2>/dev/null | sed -n 's/^plugindir=//p')
	for p in "${VM_NBDKIT_PLUGINS[@]}"; do
		so=$plugins/nbdkit-$p-plugin.so
		if [[ -f $so ]]; then
			cp -L --parents "$so" "$root"
			elfs+=("$so")
		else
			echo "build-initramfs.sh: warning: nbdkit plugin $so not found, not included" >&2
		fi
	done
fi
cp -L "$busybox" "$root/bin/busybox"
elfs+=("$busybox")
"$busybox" --list-full | while read -r a; do
	# A real program of the same name anywhere in PATH wins (util-linux
	# blkdiscard in sbin must not be shadowed by busybox's in bin).
	if [[ $a == */* && ! -e $root/$a && ! -e $root/usr/bin/${a##*/} && ! -e $root/usr/sbin/${a##*/} ]]; then
		ln -s /bin/busybox "$root/$a"
	fi
done
# Debian's busybox sh runs its own applets even where PATH has the real program (mount,
# losetup, setpriv, ...), so /bin/sh is bash.
if [[ -x $root/bin/bash ]]; then ln -sf bash "$root/bin/sh"; fi
[[ ! -f /etc/mke2fs.conf ]] || cp /etc/mke2fs.conf "$root/etc/"

mkdir -p "$root/opt/ublk" "$root/opt/tests"
cp -a "$stage/." "$root/opt/ublk/"
cp -a "$tests/." "$root/opt/tests/"
while IFS= read -r -d '' f; do
	if [[ $(od -An -N4 -tx1 "$f") == " 7f 45 4c 46" ]]; then elfs+=("$f"); fi
done < <(find "$stage" "$tests" -type f -print0)

# Shared libraries (and the dynamic loader) at their host paths.
for f in "${elfs[@]}"; do
	ldd "$f" 2>/dev/null | awk -v f="$f" '
		$2 == "=>" && $3 == "not" { print "build-initramfs.sh: warning: " f ": " $1 " not found" > "/dev/stderr" }
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }' || true
done | sort -u | while read -r lib; do
	if [[ ! -e $root$lib ]]; then cp -L --parents "$lib" "$root"; fi
done

# Modules with a modules.dep and modules.alias for busybox modprobe (the guest links
# /lib/modules/$(uname -r) to /lib/modules-test), so the kernel can load them on demand.
modinfo() { tr '\0' '\n' <"$1" | sed -n "s/^$2=//p"; } # FILE FIELD
for ko in "$kdir"/modules/*.ko.xz; do
	[[ -e $ko ]] || continue
	m=$(basename "$ko" .ko.xz)
	xz -dc "$ko" >"$root/lib/modules-test/$m.ko"
	deps=$(modinfo "$root/lib/modules-test/$m.ko" depends | head -n1)
	[[ -z $deps ]] || deps=" ${deps//,/.ko }.ko"
	echo "$m.ko:$deps" >>"$root/lib/modules-test/modules.dep"
	modinfo "$root/lib/modules-test/$m.ko" alias | sed "s/.*/alias & $m/" >>"$root/lib/modules-test/modules.alias"
done
# Modules a test loads itself when it needs them (btrfs and its dependencies for
# zone append): /lib/modules-extra, outside modules.dep, nothing loads them on demand.
if [[ -d $kdir/modules-extra ]]; then
	mkdir -p "$root/lib/modules-extra"
	for ko in "$kdir"/modules-extra/*.ko.xz; do
		xz -dc "$ko" >"$root/lib/modules-extra/$(basename "$ko" .ko.xz).ko"
	done
fi
mkdir -p "$root/etc/modprobe.d"
cat >"$root/etc/modprobe.d/ublk-test.conf" <<'EOF'
# Tests create the devices they need.
options null_blk nr_devices=0
options loop max_loop=0
EOF

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
ln -s /proc/mounts "$root/etc/mtab"
[[ -z $cmd ]] || printf '%s\n' "$cmd" >"$root/opt/cmd"

install -m 755 "$vm_dir/init" "$root/init"

chmod 755 "$root" # mktemp made it 0700, and it becomes the guest's /
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$tmp_out"
mv "$tmp_out" "$out"
