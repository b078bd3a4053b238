# The package, ublk@NAME.service, udev names, fstab, reboot, upgrade, removal.
# shellcheck shell=bash

img=/var/lib/ublk-data.img
mnt=/mnt/data
link=/dev/ublk/by-name/data

pkg_file() { dpkg -L ublk | grep -E "$1" | head -n1; }
dev_id() { basename "$(readlink -f "$link")" | sed 's/^ublkb//'; }
server_pid() { ublk list -n "$(dev_id)" --json | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p' | head -n1; }
new_server() { local p; p=$(server_pid); [[ -n $p && $p != "$1" ]]; }
no_ublk_devices() { [[ -z $(ls /sys/class/ublk-char 2>/dev/null) ]]; }

# data_sums: checksums of what the tests wrote on the file system.
data_sums() { (cd "$mnt" && md5sum big small); }

test_package_installs_offline_with_everything_and_enables_nothing() {
	apt-get install -y -q /root/ublk_*.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get install"; }
	local f
	for f in '/sbin/ublk$' '/libexec/ublk/ublk-server$' '/libexec/ublk/ublk-udev-name$' '/libexec/ublk/ublk-udev-owner$' \
		'/systemd/system/ublk@\.service$' '/udev/rules\.d/60-ublk\.rules$' \
		'/modules-load\.d/ublk\.conf$' '/man8/ublk\.8' '/bash-completion/completions/ublk$'; do
		[[ -n $(pkg_file "$f") ]] || fail "the package has no file matching $f"
		echo "installed: $(pkg_file "$f")"
	done
	[[ -z $(systemctl list-unit-files --state=enabled --no-legend 'ublk@*' 'ublk.*') ]] ||
		fail "the package enabled units: $(systemctl list-unit-files --state=enabled --no-legend 'ublk@*' 'ublk.*')"
	grep -qw ublk_drv /proc/modules || fail "ublk_drv not loaded after install"
	ublk --help | grep -q 'usage: ublk' || fail "ublk --help"
	man -w ublk >/dev/null || fail "man -w ublk finds no page"
	MANWIDTH=80 man ublk 2>/dev/null | grep -q 'restart' || fail "man ublk does not describe restart"
	# Completion of subcommands, from the installed file.
	bash -c 'source "$1"; COMP_WORDS=(ublk re); COMP_CWORD=1; _ublk; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$(pkg_file '/bash-completion/completions/ublk$')" >/tmp/compl.out
	grep -qx restart /tmp/compl.out || fail "bash completion of 'ublk re': $(cat /tmp/compl.out)"
	grep -qx resize /tmp/compl.out || fail "bash completion of 'ublk re' lacks resize"
}

test_unit_brings_up_the_device_of_a_toml_file_under_its_udev_name() {
	truncate -s 256M "$img"
	mkdir -p /etc/ublk
	cat >/etc/ublk/data.toml <<-EOF
		# the data disk
		type = "loop"
		file = "$img"
		queues = 2
		recovery = true
		recovery-mode = "reissue"
	EOF
	systemctl enable --now ublk@data || fail "systemctl enable --now ublk@data"
	systemctl is-active -q ublk@data || fail "ublk@data is not active"
	[[ -b $link ]] || fail "$link is not a block device when the unit is active"
	[[ $(readlink -f /dev/disk/by-id/ublk-data) == "$(readlink -f "$link")" ]] || fail "no /dev/disk/by-id/ublk-data"
	ublk list -n "$(dev_id)" | grep -q $'^\tname data$' || fail "list: $(ublk list -n "$(dev_id)")"
	echo "$link -> $(readlink -f "$link")"
}

test_fstab_mounts_the_device_by_its_name() {
	mkfs.ext4 -q "$link"
	mkdir -p "$mnt"
	echo "$link $mnt ext4 defaults,x-systemd.requires=ublk@data.service 0 2" >>/etc/fstab
	systemctl daemon-reload
	systemctl start mnt-data.mount || fail "systemctl start mnt-data.mount"
	findmnt -n -o SOURCE "$mnt" | grep -q ublkb || fail "not mounted from a ublk device: $(findmnt "$mnt")"
	dd if=/dev/urandom of="$mnt/big" bs=1M count=16 status=none
	echo small >"$mnt/small"
	sync
	data_sums >"$state/sums"
}

test_reload_replaces_the_server_and_the_mount_stays() {
	local old new
	old=$(server_pid)
	systemctl reload ublk@data || fail "systemctl reload ublk@data"
	new=$(server_pid)
	[[ -n $new && $new != "$old" ]] || fail "server pid $old -> '$new'"
	systemctl is-active -q ublk@data || fail "ublk@data not active after reload"
	echo more >>"$mnt/small"
	sync
	[[ $(cat "$mnt/small") == $'small\nmore' ]] || fail "file: $(cat "$mnt/small")"
	data_sums >"$state/sums"
	echo "server $old -> $new"
}

test_a_killed_server_is_restarted_and_recovers_under_the_mount() {
	local old new
	old=$(server_pid)
	kill -9 "$old"
	wait_until 30 new_server "$old" || fail "no new server after kill -9: $(systemctl status ublk@data --no-pager)"
	wait_until 30 systemctl is-active -q ublk@data || fail "ublk@data not active again"
	new=$(server_pid)
	ublk list -n "$(dev_id)" --json | grep -q '"state": "LIVE"' || fail "device not LIVE after the restart"
	mountpoint -q "$mnt" || fail "$mnt unmounted"
	[[ $(data_sums) == "$(cat "$state/sums")" ]] || fail "data changed across the kill"
	echo after-kill >>"$mnt/small"
	sync
	[[ $(tail -n1 "$mnt/small") == after-kill ]] || fail "cannot write after the recovery"
	data_sums >"$state/sums"
	echo "server $old (killed) -> $new"
}

test_a_broken_config_fails_its_unit_with_one_line_in_the_journal() {
	printf 'type = "loop"\nfile = "/var/lib/none.img"\nqueues = "two"\n' >/etc/ublk/broken.toml
	if systemctl start ublk@broken 2>/dev/null; then fail "ublk@broken started"; fi
	systemctl is-failed -q ublk@broken || fail "ublk@broken is not failed: $(systemctl is-active ublk@broken)"
	journalctl -b --no-pager -o cat -u ublk@broken | tee /tmp/broken.log
	grep -q '/etc/ublk/broken.toml:3:.*queues' /tmp/broken.log || fail "the journal does not name the file, line and key"
	systemctl reset-failed ublk@broken
	rm -f /etc/ublk/broken.toml
	no_other_device() { [[ $(ls /sys/class/ublk-char | wc -l) == 1 ]]; }
	no_other_device || fail "the broken unit left a device: $(ls /sys/class/ublk-char)"
}

phase_before_reboot() {
	local t
	for t in test_package_installs_offline_with_everything_and_enables_nothing \
		test_unit_brings_up_the_device_of_a_toml_file_under_its_udev_name \
		test_fstab_mounts_the_device_by_its_name \
		test_reload_replaces_the_server_and_the_mount_stays \
		test_a_killed_server_is_restarted_and_recovers_under_the_mount \
		test_a_broken_config_fails_its_unit_with_one_line_in_the_journal; do
		# Later tests build on earlier ones.
		run_test "$t" || { finish; return; }
	done
	echo 2 >"$state/phase"
	sync
	echo "system tests: rebooting"
	systemctl --no-block reboot
}

test_after_reboot_the_driver_the_device_and_the_mount_are_back() {
	grep -qw ublk_drv /proc/modules || fail "ublk_drv not loaded at boot (modules-load.d)"
	systemctl is-active -q ublk@data || fail "ublk@data not active after reboot: $(systemctl status ublk@data)"
	wait_until 30 mountpoint -q "$mnt" || fail "$mnt not mounted at boot"
	findmnt -n -o SOURCE "$mnt" | grep -q ublkb || fail "not mounted from a ublk device"
	[[ $(data_sums) == "$(cat "$state/sums")" ]] || fail "data changed across the reboot"
}

test_package_upgrade_hands_running_devices_to_the_new_server() {
	local old new
	old=$(server_pid)
	# Reinstalling is an upgrade for the maintainer scripts ("configure OLD").
	apt-get install -y -q --reinstall /root/ublk_*.deb >/tmp/apt.log 2>&1 ||
		{ cat /tmp/apt.log; fail "apt-get install --reinstall"; }
	new=$(server_pid)
	[[ -n $new && $new != "$old" ]] || { cat /tmp/apt.log; fail "server pid $old -> '$new' across the upgrade"; }
	mountpoint -q "$mnt" || fail "$mnt unmounted by the upgrade"
	[[ $(data_sums) == "$(cat "$state/sums")" ]] || fail "data changed across the upgrade"
	echo "server $old -> $new"
}

test_stopping_the_unit_unmounts_and_deletes_the_device() {
	systemctl stop ublk@data || fail "systemctl stop ublk@data"
	! mountpoint -q "$mnt" || fail "$mnt still mounted after the unit stopped"
	wait_until 10 no_ublk_devices || fail "device left: $(ls /sys/class/ublk-char)"
	[[ ! -e $link ]] || fail "$link left behind"
	e2fsck -fn "$img" >/dev/null || fail "e2fsck found errors on the backing file"
	systemctl start mnt-data.mount || fail "starting the mount did not start the device"
	systemctl is-active -q ublk@data || fail "ublk@data not pulled in by the mount"
	[[ $(data_sums) == "$(cat "$state/sums")" ]] || fail "data changed across stop and start"
}

test_package_removal_stops_devices_and_leaves_nothing_enabled() {
	apt-get remove -y -q ublk >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get remove"; }
	! mountpoint -q "$mnt" || fail "$mnt still mounted after removal"
	wait_until 10 no_ublk_devices || fail "device left: $(ls /sys/class/ublk-char)"
	! systemctl is-active -q ublk@data || fail "ublk@data still active"
	[[ -z $(systemctl list-unit-files --no-legend 'ublk@*' 'ublk.*') ]] ||
		fail "unit files left: $(systemctl list-unit-files --no-legend 'ublk@*' 'ublk.*')"
	[[ -z $(find /etc/systemd/system -name 'ublk@*') ]] || fail "enablement links left: $(find /etc/systemd/system -name 'ublk@*')"
	[[ ! -e /usr/sbin/ublk ]] || fail "/usr/sbin/ublk left"
	[[ -f /etc/ublk/data.toml ]] || fail "the administrator's /etc/ublk/data.toml was removed"
	[[ -z $(systemctl --failed --no-legend) ]] || fail "failed units: $(systemctl --failed --no-legend)"
}

phase_after_reboot() {
	local t
	for t in test_after_reboot_the_driver_the_device_and_the_mount_are_back \
		test_package_upgrade_hands_running_devices_to_the_new_server \
		test_stopping_the_unit_unmounts_and_deletes_the_device \
		unprivileged_tests \
		test_package_removal_stops_devices_and_leaves_nothing_enabled; do
		if [[ $t == unprivileged_tests ]]; then
			unprivileged_tests
			[[ ! -s $state/failed ]] || break
			continue
		fi
		run_test "$t" || break
	done
	finish
}
