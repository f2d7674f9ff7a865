#!/usr/bin/env bash
# The Debian package end to end: `cpack -G DEB` in the build directory, the .deb's fields, files
# and control scripts, then a real `dpkg -i` on this machine, the installed binaries, user, groups
# and unit, `dpkg -r`, `dpkg --purge`, and a check that the machine is as it was before.
#   deb_test.sh BUILD_DIR [CPACK]
# Installing needs root (CI runs as root on a throwaway machine). With CI=true a missing tool or
# root fails the test; elsewhere the test skips (exit 77, which ctest reports as skipped) or skips
# the part that needs it, and says so.
set -euo pipefail

build_dir=$(cd "$1" && pwd)
cpack=${2:-cpack}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
unit=/lib/systemd/system/sre-agent.service
# The groups postinst adds the user to, when the host has them.
groups_wanted=(postdrop www-data adm systemd-journal)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }
# Outside CI, a missing tool skips the whole test (exit 77) or, with `part`, only what needs it.
missing() {  # missing WHAT [part]
  if [ "${CI:-}" = true ]; then fail "$1 (with CI=true this fails instead of skipping)"; fi
  if [ "${2:-}" = part ]; then
    echo "SKIPPED (part): $1; run with CI=true to make this a failure" >&2
    return 0
  fi
  echo "SKIPPED: $1; run with CI=true to make this a failure" >&2
  exit 77
}
have() { command -v "$1" >/dev/null; }

for tool in dpkg dpkg-deb dpkg-shlibdeps flock; do
  have "$tool" || missing "$tool is missing (scripts/setup.sh build installs dpkg-dev)"
done
have "$cpack" || missing "cpack ($cpack) is missing"

# One run at a time on this machine, whatever the build directory (ctest's RESOURCE_LOCK only
# covers one ctest run).
exec 9>/tmp/sre-agent-deb-test.lock
flock -w 200 9 || fail "another deb_test.sh held /tmp/sre-agent-deb-test.lock for 200 s"

status=$(dpkg-query -W -f='${Status}' sre-agent 2>/dev/null || true)
if [ -n "$status" ] && [ "$status" != "unknown ok not-installed" ]; then
  # Someone's real installation: the test would replace and purge it.
  missing "sre-agent is already on this machine ($status); the test would purge it"
fi

# --- Build the package ---------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
start=$(date +%s%N)
(cd "$build_dir" && "$cpack" -G DEB) >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  fail "cpack -G DEB failed"
}
took=$(ms_since "$start")
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' "$work/cpack.log")
[ -f "$deb" ] || {
  cat "$work/cpack.log" >&2
  fail "cpack did not say which .deb it wrote"
}
ok "cpack -G DEB: $deb, $(stat -c %s "$deb") bytes, ${took} ms"

# --- Fields ----------------------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = sre-agent ] || fail "Package is $(field Package)"
version=$(field Version)
upstream=${version%-*}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+-1$ ]] || fail "Version is $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] ||
  fail "Architecture is $(field Architecture), dpkg says $(dpkg --print-architecture)"
[ "$(field Section)" = admin ] || fail "Section is $(field Section)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
[[ "$depends" == *adduser* ]] || fail "Depends lacks adduser: $depends"
# dpkg-shlibdeps ran: the C library and the libraries linked dynamically are named.
for lib in libc6 libcurl4 libyaml-cpp; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib (did dpkg-shlibdeps run?): $depends"
done
ok "fields: sre-agent $version $(field Architecture), Depends: $depends"

# --- Files -----------------------------------------------------------------------------------------
dpkg-deb -c "$deb" >"$work/contents"
# Paths without the leading ".", and without directories.
awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' "$work/contents" | sort >"$work/files"
expected=(
  /usr/bin/sre-agent /usr/bin/sre-probe /etc/sre-agent/sre-agent.yaml "$unit"
  /usr/share/man/man1/sre-probe.1.gz /usr/share/bash-completion/completions/sre-probe
  /usr/share/zsh/vendor-completions/_sre_probe /usr/share/doc/sre-agent/README.md
  /usr/share/sre-agent/dashboards/README.md
)
# Every file of dashboards/ that is not a test, a script or a build file.
while IFS= read -r f; do
  expected+=("/usr/share/sre-agent/dashboards/${f#"$source_dir"/dashboards/}")
done < <(find "$source_dir/dashboards" -type f \
  -not -path '*/tests/*' -not -path '*/scripts/*' -not -path '*/__pycache__/*' \
  -not -name '*.sh' -not -name '*.py' -not -name '*_test.yml' -not -name '*_test.yaml' \
  -not -name CMakeLists.txt)
for f in "${expected[@]}"; do
  grep -qxF "$f" "$work/files" || fail "$f is not in the package"
done
if grep -E '^/usr/share/sre-agent/.*(/tests/|/scripts/|\.sh$|\.py$|CMakeLists\.txt$)' \
  "$work/files"; then
  fail "the package holds dashboard tests or scripts (above)"
fi
# Nothing outside the places a Debian package may use.
if grep -vE '^/(usr/(bin|share)|etc/sre-agent|lib/systemd/system)/' "$work/files"; then
  fail "files outside /usr/bin, /usr/share, /etc/sre-agent, /lib/systemd/system (above)"
fi
mode() { awk -v p="./${1#/}" '$6 == p {print $1 " " $2}' "$work/contents"; }
[ "$(mode /usr/bin/sre-agent)" = "-rwxr-xr-x root/root" ] || fail "sre-agent: $(mode /usr/bin/sre-agent)"
[ "$(mode /etc/sre-agent/sre-agent.yaml)" = "-rw-r--r-- root/root" ] ||
  fail "the config: $(mode /etc/sre-agent/sre-agent.yaml)"
ok "files: $(wc -l <"$work/files") files, all ${#expected[@]} expected ones, no tests or scripts"

# --- Control archive -------------------------------------------------------------------------------
dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = /etc/sre-agent/sre-agent.yaml ] ||
  fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [ "$(stat -c %a "$work/control/$script")" = 755 ] || fail "$script is not 0755"
  sh -n "$work/control/$script" || fail "$script: syntax error"
done
[ -f "$work/control/md5sums" ] || fail "no md5sums"
ok "control: conffiles lists /etc/sre-agent/sre-agent.yaml; postinst, prerm, postrm 0755"

# --- Install ---------------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  missing "not root: the package was built and inspected but not installed"
fi

# What the machine looks like before, to compare with after the purge.
snapshot() {
  find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
    /var/lib/systemd/deb-systemd-helper-masked /etc/sre-agent /var/lib/sre-agent \
    /usr/share/sre-agent /usr/share/doc/sre-agent /etc/default/sre-agent \
    -printf '%p %y %m %l\n' 2>/dev/null | sort || true
  getent passwd sre-agent || true
  getent group | grep -w sre-agent | sort || true
}
snapshot >"$work/before"
user_existed=no
getent passwd sre-agent >/dev/null && user_existed=yes
group_existed=no
getent group sre-agent >/dev/null && group_existed=yes
groups_before=" $( [ $user_existed = yes ] && id -nG sre-agent || true) "

installed=no
# Purges the package if the test installed it, and removes the user and group if the test made
# them (or the groups postinst gave a user that was there before).
restore() {
  if [ $installed = yes ]; then
    dpkg --purge sre-agent >/dev/null 2>&1 || echo "restore: dpkg --purge sre-agent failed" >&2
    installed=no
  fi
  if [ $user_existed = no ] && getent passwd sre-agent >/dev/null; then
    userdel sre-agent || echo "restore: userdel sre-agent failed" >&2
  elif [ $user_existed = yes ]; then
    for g in "${groups_wanted[@]}"; do
      if [[ "$groups_before" != *" $g "* ]] && id -nG sre-agent | tr ' ' '\n' | grep -qx "$g"; then
        gpasswd -d sre-agent "$g" >/dev/null || echo "restore: gpasswd -d sre-agent $g failed" >&2
      fi
    done
  fi
  if [ $group_existed = no ] && getent group sre-agent >/dev/null; then
    groupdel sre-agent || echo "restore: groupdel sre-agent failed" >&2
  fi
}
on_exit() {
  local rc=$?
  restore
  rm -rf "$work"
  exit "$rc"
}
trap on_exit EXIT

installed=yes
start=$(date +%s%N)
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg -i failed"
}
ok "dpkg -i in $(ms_since "$start") ms"
[ "$(dpkg-query -W -f='${Status}' sre-agent)" = "install ok installed" ] || fail "not installed"
dpkg -s sre-agent | grep -q '^ /etc/sre-agent/sre-agent.yaml [0-9a-f]\{32\}$' ||
  fail "dpkg does not list /etc/sre-agent/sre-agent.yaml as a conffile"
ok "dpkg -s: installed, /etc/sre-agent/sre-agent.yaml is a conffile"

# Binaries, config, docs.
out=$(/usr/bin/sre-agent --version)
[[ "$out" == "sre-agent $upstream "* ]] || fail "sre-agent --version: $out"
ok "$out"
out=$(/usr/bin/sre-probe --version)
[[ "$out" == "sre-probe $upstream "* ]] || fail "sre-probe --version: $out"
ok "$out"
out=$(/usr/bin/sre-agent --config.file=/etc/sre-agent/sre-agent.yaml --config.check) ||
  fail "the shipped config: $out"
ok "$out"
# As the service runs it: the config must be readable by the sre-agent user.
out=$(runuser -u sre-agent -- /usr/bin/sre-agent --config.file=/etc/sre-agent/sre-agent.yaml \
  --config.check) || fail "as user sre-agent: $out"
ok "as user sre-agent: $out"
if have readelf; then
  for b in sre-agent sre-probe; do
    if readelf -S "/usr/bin/$b" | grep -q '\.debug_info'; then fail "/usr/bin/$b is not stripped"; fi
  done
  ok "binaries stripped ($(stat -c %s /usr/bin/sre-agent) and $(stat -c %s /usr/bin/sre-probe) bytes)"
else
  missing "readelf (binutils) is missing: stripping not checked" part
fi
if have man; then
  out=$(man -w sre-probe) || fail "man -w sre-probe found nothing"
  [ "$out" = /usr/share/man/man1/sre-probe.1.gz ] || fail "man -w sre-probe: $out"
  ok "man -w sre-probe: $out"
else
  missing "man (man-db) is missing: the man page was not looked up" part
fi
out=$(bash -c 'source /usr/share/bash-completion/completions/sre-probe && complete -p sre-probe') ||
  fail "the bash completion does not load"
ok "bash completion: $out"
if have zsh; then
  zsh -n /usr/share/zsh/vendor-completions/_sre_probe || fail "the zsh completion: syntax error"
  head -1 /usr/share/zsh/vendor-completions/_sre_probe | grep -qx '#compdef sre-probe' ||
    fail "the zsh completion does not start with #compdef sre-probe"
  ok "zsh completion parses"
else
  missing "zsh is missing: the zsh completion was not parsed" part
fi

# The user and its groups.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd sre-agent) || fail "no user sre-agent"
[ "$uid" -lt 1000 ] || fail "sre-agent is not a system user (uid $uid)"
[ "$(getent group "$gid" | cut -d: -f1)" = sre-agent ] || fail "primary group is not sre-agent"
# adduser leaves a user that was there before as it was.
[ $user_existed = yes ] || [ "$home" = /var/lib/sre-agent ] || fail "home is $home"
[[ "$shell" == */nologin || "$shell" == /bin/false ]] || fail "shell is $shell"
member_of=" $(id -nG sre-agent) "
for g in "${groups_wanted[@]}"; do
  if getent group "$g" >/dev/null; then
    [[ "$member_of" == *" $g "* ]] || fail "sre-agent is not in group $g"
  else
    [[ "$member_of" != *" $g "* ]] || fail "sre-agent is in group $g, which does not exist"
    echo "note: no group $g on this host, so none added"
  fi
done
ok "user sre-agent: uid $uid, home $home, shell $shell, groups:$member_of"

# The unit.
if have deb-systemd-helper; then
  [ -L /etc/systemd/system/multi-user.target.wants/sre-agent.service ] ||
    fail "the unit is not enabled (no multi-user.target.wants link)"
  ok "unit enabled for multi-user.target"
fi
if have systemd-analyze; then
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
  ok "systemd-analyze verify $unit: clean"
  score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | grep -o 'exposure level.*' || true)
  [ -z "$score" ] || echo "note: systemd-analyze security: $score"
else
  missing "systemd-analyze (systemd) is missing: the unit was not verified" part
fi

# Reinstalling (as an upgrade does) must work on a machine that has the user already.
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "a second dpkg -i failed"
}
[ "$(getent passwd | grep -c '^sre-agent:')" = 1 ] || fail "two sre-agent users after reinstalling"
ok "second dpkg -i (postinst configure again): fine"

# --- Remove, purge ---------------------------------------------------------------------------------
# What the service's StateDirectory= would hold.
install -d -o sre-agent -g sre-agent -m 0700 /var/lib/sre-agent
install -o sre-agent -g sre-agent -m 0600 /dev/null /var/lib/sre-agent/alerts.spool
dpkg -r sre-agent >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg -r failed"
}
[ "$(dpkg-query -W -f='${Status}' sre-agent)" = "deinstall ok config-files" ] ||
  fail "after dpkg -r: $(dpkg-query -W -f='${Status}' sre-agent)"
[ ! -e /usr/bin/sre-agent ] || fail "dpkg -r left /usr/bin/sre-agent"
[ -f /etc/sre-agent/sre-agent.yaml ] || fail "dpkg -r removed the conffile"
if have deb-systemd-helper; then
  # The enablement link outlives the unit file until purge; the mask keeps systemd off it.
  [ "$(readlink /etc/systemd/system/sre-agent.service)" = /dev/null ] ||
    fail "dpkg -r did not mask the unit"
fi
ok "dpkg -r: binaries gone, /etc/sre-agent/sre-agent.yaml kept, unit masked"

dpkg --purge sre-agent >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg --purge failed"
}
installed=no
[ -z "$(dpkg-query -W -f='${Status}' sre-agent 2>/dev/null | grep -v not-installed)" ] ||
  fail "after dpkg --purge: $(dpkg-query -W -f='${Status}' sre-agent)"
while IFS= read -r f; do
  [ ! -e "$f" ] || fail "dpkg --purge left $f"
done <"$work/files"
[ ! -e /etc/sre-agent ] || fail "dpkg --purge left /etc/sre-agent"
[ ! -e /var/lib/sre-agent ] || fail "dpkg --purge left /var/lib/sre-agent"
getent passwd sre-agent >/dev/null || fail "dpkg --purge removed the user (Debian keeps it)"
ok "dpkg --purge: every file, /etc/sre-agent and /var/lib/sre-agent gone; the user kept"

# --- As it was -------------------------------------------------------------------------------------
restore
snapshot >"$work/after"
diff -u "$work/before" "$work/after" ||
  fail "the machine differs from before the test (above: - before, + after)"
ok "the machine is as before: no package, user, group, unit link or directory left"
