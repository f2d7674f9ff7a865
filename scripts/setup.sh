#!/usr/bin/env bash
# Installs what building (`build`) or testing (`test`) sre-agent needs on Debian bookworm, as root.
# Only missing packages are installed, so a second run is quick and needs no network.
set -euo pipefail

profile="${1:-build}"

# dpkg-dev: dpkg-shlibdeps, which `cpack -G DEB` runs for the package's Depends.
build_packages=(
  build-essential cmake ninja-build pkg-config ccache git dpkg-dev
  prometheus-cpp-dev libmicrohttpd-dev libgnutls28-dev libcrypt-dev libcurl4-openssl-dev libc-ares-dev
  libssl-dev nlohmann-json3-dev libfmt-dev libyaml-cpp-dev zlib1g-dev libre2-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# clang + libclang-rt: the asan-ubsan preset and libFuzzer; prometheus: promtool;
# dnsmasq-base: names with many addresses; chromium: the landing-page test;
# prometheus-blackbox-exporter: /probe is compared with it; python3-cryptography: test certificates;
# php8.2-fpm, postfix: real pools and a real mail queue (started by the tests, never as services);
# prometheus-postfix-exporter: compared with; systemd-journal-remote: writes test journal files;
# prometheus-alertmanager: receives the alerts of the end-to-end alerting tests; tmux: the
# terminal test of sre-probe's colours and alignment; zsh, groff-base, man-db: sre-probe's shell
# completions are loaded and its man page rendered; python3-prometheus-client: the text parser
# Datadog's OpenMetrics check uses reads /metrics.
test_packages=(
  clang-14 libclang-rt-14-dev clang-format python3 python3-cryptography curl openssl
  prometheus prometheus-blackbox-exporter dnsmasq-base chromium php8.2-fpm
  postfix prometheus-postfix-exporter systemd-journal-remote prometheus-alertmanager tmux
  zsh groff-base man-db python3-prometheus-client
)
# Peers measured side by side in tests/bench.
bench_packages=(hyperfine wrk nginx-light)

case "$profile" in
  build) wanted=("${build_packages[@]}") ;;
  test) wanted=("${build_packages[@]}" "${test_packages[@]}") ;;
  bench) wanted=("${build_packages[@]}" "${test_packages[@]}" "${bench_packages[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 3 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages with apt-get)" >&2
  exit 1
fi

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # postfix asks these on install; a local-only answer keeps it off the network.
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string localhost.localdomain" | debconf-set-selections
  apt-get update -qq
  # --no-install-recommends keeps chromium and prometheus from pulling in desktops and services.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
