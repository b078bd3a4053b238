#!/bin/bash
# The system tier's tests, run at boot by ublk-system-tests.service in the
# Debian guest that tests/vm/system-tier.sh builds: the package installed with
# apt, a device described by /etc/ublk/data.toml run by ublk@data.service,
# mounted from /etc/fstab through its udev name, a reboot, a live server
# upgrade, and the package's removal. Phases are kept across the reboot in
# /var/lib/ublk-system-tests. Each test prints PASS or FAIL; the last line is
# UBLK_SYSTEM_EXIT=N, then the guest powers off.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=/var/lib/ublk-system-tests
mkdir -p "$state"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=service.sh
source "$here/service.sh"
# shellcheck source=unprivileged.sh
source "$here/unprivileged.sh"

phase=$(cat "$state/phase" 2>/dev/null || echo 1)
echo "system tests: phase $phase, kernel $(uname -r), $(systemctl --version | head -n1)"
case $phase in
1) phase_before_reboot ;;
2) phase_after_reboot ;;
*) echo "system tests: unknown phase $phase"; echo 1 >>"$state/failed" ;;
esac
