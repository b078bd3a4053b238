#!/bin/bash
# Usage: fetch-kernel.sh [--refresh] CACHE_DIR
#
# Prints the path of a test-kernel folder inside CACHE_DIR, downloading one first
# when CACHE_DIR holds no complete folder (or when --refresh is given). The folder has
# the layout the VM scripts expect:
#   vmlinuz, config, modules/<name>.ko.xz
# where the modules are ublk_drv, null_blk, configfs, loop, nbd, xfs and zonefs plus
# the modules they depend on (whichever of them the kernel builds as modules).
#
# The kernel is Debian's linux-image-cloud-amd64 from the unstable suite. It is
# fetched with `apt-get download` through a private apt configuration in a temporary
# directory (own sources.list, lists, cache and status file), so the system's package
# state is never touched and root is not needed. The archive URI is taken from the
# machine's own apt sources (the first ".../debian" archive that is not -security);
# set UBLK_DEBIAN_MIRROR=URI to override it, UBLK_DEBIAN_SUITE to use another suite.
# The host's Acquire:: settings (proxies and the like) are honoured.
set -euo pipefail

WANT_MODULES=(ublk_drv null_blk configfs loop nbd xfs zonefs)
META=linux-image-cloud-amd64
SUITE=${UBLK_DEBIAN_SUITE:-unstable}

die() { echo "fetch-kernel.sh: $*" >&2; exit 1; }

usage() { sed -n '2,/^set -/s/^# \{0,1\}//p' "$0"; }
[[ ${1:-} != -h && ${1:-} != --help ]] || { usage; exit 0; }
refresh=0
if [[ ${1:-} == --refresh ]]; then refresh=1; shift; fi
[[ $# -eq 1 && $1 != -* ]] || { usage >&2; exit 2; }
cache=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# A folder is complete once the .complete stamp is written (last step below).
newest_cached() {
	local d
	d=$(find "$cache" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' | sort -V | tail -n1)
	[[ -n $d ]] || return 1
	echo "$d"
}
if [[ $refresh == 0 ]] && newest_cached; then exit 0; fi

# Print "URI<TAB>SIGNED-BY" of the first main Debian archive in the host's apt sources.
find_archive() {
	local f files=()
	if [[ -f /etc/apt/sources.list ]]; then files+=(/etc/apt/sources.list); fi
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		if [[ -f $f ]]; then files+=("$f"); fi
	done
	for f in "${files[@]}"; do
		if [[ $f == *.sources ]]; then
			# deb822: blank-line separated stanzas with Types/URIs/Signed-By/Enabled.
			awk 'function flush() {
					if (types ~ /(^| )deb( |$)/ && enabled != "no")
						for (i = 1; i <= n; i++) print uris[i] "\t" signed
					types = ""; enabled = ""; signed = ""; n = 0
				}
				/^[ \t]*$/ { flush(); next }
				/^[ \t]*#/ || /^[ \t]/ { next }
				{ key = tolower($1); sub(/:$/, "", key)
				  if (key == "types") { $1 = ""; types = $0 }
				  else if (key == "enabled") enabled = tolower($2)
				  else if (key == "signed-by") signed = $2
				  else if (key == "uris") for (i = 2; i <= NF; i++) uris[++n] = $i }
				END { flush() }' "$f"
		else
			# one-line format: deb [opt=val ...] URI suite components
			awk '$1 == "deb" {
					signed = ""; i = 2
					if ($i ~ /^\[/) {
						for (; i <= NF; i++) {
							if ($i ~ /signed-by=/) { s = $i; sub(/.*signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
							if ($i ~ /\]$/) { i++; break }
						}
					}
					print $i "\t" signed
				}' "$f"
		fi
	done | awk -F'\t' '{ u = $1; sub(/\/+$/, "", u) } u ~ /\/debian$/ { print u "\t" $2; exit }'
}

if [[ -n ${UBLK_DEBIAN_MIRROR:-} ]]; then
	uri=$UBLK_DEBIAN_MIRROR signed_by=
else
	IFS=$'\t' read -r uri signed_by < <(find_archive) ||
		die "no Debian archive (.../debian) in the apt sources; set UBLK_DEBIAN_MIRROR=URI"
fi
# Signed-By may be an inline key block instead of a file; then use apt's default keyrings.
[[ -n $signed_by && -f $signed_by ]] || signed_by=

tmp=$(mktemp -d)
stage=''
trap 'rm -rf "$tmp" "$stage"' EXIT
mkdir -p "$tmp/empty" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs" "$tmp/root"
: >"$tmp/status"
echo "deb ${signed_by:+[signed-by=$signed_by] }$uri $SUITE main" >"$tmp/sources.list"
{
	# Of the host configuration keep the download settings (proxies, Check-Valid-Until,
	# ...) but not the extra index targets and the hooks.
	apt-config dump 2>/dev/null | grep '^Acquire::' | grep -Ev '^Acquire::(IndexTargets|Languages)' || true
	cat <<-EOF
	Dir::Etc::Main "/dev/null";
	Dir::Etc::Parts "$tmp/empty";
	Dir::Etc::SourceList "$tmp/sources.list";
	Dir::Etc::SourceParts "$tmp/empty";
	Dir::Etc::Preferences "$tmp/empty/none";
	Dir::Etc::PreferencesParts "$tmp/empty";
	Dir::State::Lists "$tmp/lists";
	Dir::State::status "$tmp/status";
	Dir::Cache "$tmp/cache";
	APT::Architecture "amd64";
	APT::Architectures { "amd64"; };
	Acquire::Languages "none";
	EOF
	# Root would hand downloads to the _apt user, which cannot write into $tmp.
	[[ $EUID != 0 ]] || echo 'APT::Sandbox::User "root";'
} >"$tmp/apt.conf"
export APT_CONFIG=$tmp/apt.conf

echo "fetch-kernel.sh: reading $uri $SUITE" >&2
apt-get -qq update >&2 || die "apt-get update failed for $uri $SUITE"

# First alternative of every Depends entry, without version constraints.
depends() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n 's/^Depends: //p' | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/[[:space:]]//g' | grep .
}

# Walk from the metapackage to the versioned packages. Depending on the Debian release
# the kernel is linux-image-VER-cloud-amd64[-unsigned] or, newer, linux-binary-VER-*
# + linux-modules-VER-* + linux-base-VER-* (vmlinuz, modules and config respectively).
queue=("$META") seen=" $META " pkgs=()
while [[ ${#queue[@]} -gt 0 ]]; do
	p=${queue[0]} queue=("${queue[@]:1}")
	while read -r d; do
		[[ $d =~ ^linux-(image|binary|modules|base)- && $seen != *" $d "* ]] || continue
		seen+="$d " queue+=("$d")
		if [[ $d =~ -[0-9]+\. && $d != *-dbg ]]; then pkgs+=("$d"); fi
	done < <(depends "$p")
done
[[ ${#pkgs[@]} -gt 0 ]] || die "cannot resolve $META in $uri $SUITE"
echo "fetch-kernel.sh: downloading ${pkgs[*]}" >&2
(cd "$tmp/debs" && apt-get -qq download "${pkgs[@]}" >&2) || die "apt-get download failed"
for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done

# Old layout: boot/vmlinuz-REL, boot/config-REL; new: usr/lib/modules/REL/{vmlinuz,config}.
pick() { find "$tmp/root" -type f \( -path "*/boot/$1-*" -o -path "*/lib/modules/*/$1" \) | head -n1; }
vmlinuz=$(pick vmlinuz) config=$(pick config)
[[ -n $vmlinuz && -n $config ]] || die "no vmlinuz/config in ${pkgs[*]}"
release=$(find "$tmp/root" -type d -path '*/lib/modules/*' ! -path '*/lib/modules/*/*' -printf '%f\n' | head -n1)
[[ -n $release ]] || release=${vmlinuz##*/vmlinuz-}
grep -Eq '^CONFIG_BLK_DEV_UBLK=[ym]' "$config" || die "kernel $release has no ublk (CONFIG_BLK_DEV_UBLK)"

out=$cache/linux-$release
stage=$out.tmp.$$
rm -rf "$stage" && mkdir -p "$stage/modules"
cp "$vmlinuz" "$stage/vmlinuz"
cp "$config" "$stage/config"

# Copy the wanted modules and, transitively, the modules they depend on.
modfile() { find "$tmp/root" -path '*/lib/modules/*' \( -name "$1.ko" -o -name "$1.ko.xz" \) | head -n1; }
todo=("${WANT_MODULES[@]}")
while [[ ${#todo[@]} -gt 0 ]]; do
	m=${todo[0]} todo=("${todo[@]:1}")
	[[ ! -e $stage/modules/$m.ko.xz ]] || continue
	f=$(modfile "$m")
	[[ -n $f ]] || f=$(modfile "${m//_/-}")
	[[ -n $f ]] || continue # built in, or not built at all
	if [[ $f == *.xz ]]; then cp "$f" "$stage/modules/$m.ko.xz"; else xz -c "$f" >"$stage/modules/$m.ko.xz"; fi
	deps=$(xz -dc "$stage/modules/$m.ko.xz" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1)
	IFS=, read -ra more <<<"$deps"
	todo+=("${more[@]}")
done

touch "$stage/.complete"
rm -rf "$out" && mv "$stage" "$out"
echo "$out"
