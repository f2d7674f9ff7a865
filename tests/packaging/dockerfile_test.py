#!/usr/bin/env python3
"""Static checks of packaging/docker/Dockerfile (no image is built here: no registry to pull from).

  dockerfile_test.py [SRE_AGENT_BINARY]

- two stages: `FROM debian:bookworm AS build`, then `FROM debian:bookworm-slim`;
- the build stage runs what CI runs: `scripts/setup.sh build` and the release preset
  (`cmake --preset release`, `cmake --build --preset release`), and that preset exists;
- the runtime stage installs the shared libraries of the .deb's Depends and ca-certificates, and
  no -dev package or compiler; with a built sre-agent binary as argument, every library it links
  (objdump NEEDED, mapped with dpkg -S) comes from the base image or that list;
- USER is a fixed non-root uid:gid, the same as the DaemonSet's runAsUser and runAsGroup;
- EXPOSE 8944, ENTRYPOINT sre-agent --config.file=/etc/sre-agent/sre-agent.yaml;
- .dockerignore at the root excludes build/.
Standard library only.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "packaging/docker/Dockerfile"
# The .deb's Depends (dpkg-shlibdeps) without adduser (postinst only), plus ca-certificates.
RUNTIME = {"ca-certificates", "libc-ares2", "libcurl4", "libfmt9", "libgnutls30", "libmicrohttpd12",
           "libprometheus-cpp-core1.0", "libre2-9", "libssl3", "libsystemd0", "libyaml-cpp0.7",
           "zlib1g"}
# In debian:bookworm-slim already.
BASE_IMAGE = {"libc6", "libcrypt1", "libgcc-s1", "libstdc++6"}

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def instructions(text):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        if re.match(r"\s*#", line):  # a comment, also between continuation lines
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
        current = ""
    return out


def stages(instrs):
    result = []
    for word, args in instrs:
        if word == "FROM":
            result.append({"from": args, "instrs": []})
        elif result:
            result[-1]["instrs"].append((word, args))
        else:
            check(word == "ARG", f"{word} before the first FROM")
    return result


def daemonset_ids():
    text = (ROOT / "packaging/kubernetes/base/daemonset.yaml").read_text()
    user = re.search(r"^\s+runAsUser: (\d+)", text, re.M)
    group = re.search(r"^\s+runAsGroup: (\d+)", text, re.M)
    return (user and user.group(1)), (group and group.group(1))


def linked_packages(binary):
    """Debian packages of the libraries BINARY links, or None without objdump/dpkg."""
    if not (shutil.which("objdump") and shutil.which("dpkg")):
        return None
    dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True)
    packages = {}
    for lib in re.findall(r"^\s+NEEDED\s+(\S+)", dump.stdout, re.M):
        owner = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
        # The native architecture's package, not libc6-i386 and the like.
        names = [line.split(":")[0] for line in owner.stdout.splitlines()]
        names = [n for n in names if "i386" not in n]
        packages[lib] = names[0] if names else None
    return packages


def main():
    instrs = instructions(DOCKERFILE.read_text())
    st = stages(instrs)
    check(len(st) == 2, f"expected 2 stages, found {len(st)}: {[s['from'] for s in st]}")
    if len(st) < 2:
        return
    build, runtime = st[0], st[-1]
    check(re.fullmatch(r"debian:bookworm AS build", build["from"], re.I) is not None,
          f"build stage is FROM {build['from']}, want debian:bookworm AS build")
    check(runtime["from"] == "debian:bookworm-slim",
          f"runtime stage is FROM {runtime['from']}, want debian:bookworm-slim")

    build_runs = " && ".join(a for w, a in build["instrs"] if w == "RUN")
    for command in ("bash scripts/setup.sh build", "cmake --preset release",
                    "cmake --build --preset release"):
        check(command in build_runs, f"the build stage does not run `{command}` (what CI runs)")
    quickstart = (ROOT / "scripts/quickstart.sh").read_text()
    check('cmake --preset "$preset"' in quickstart and 'cmake --build --preset "$preset"' in
          quickstart, "scripts/quickstart.sh no longer runs cmake --preset / --build --preset: "
          "update the Dockerfile to what CI runs")
    check(re.search(r"^\s*build\)", (ROOT / "scripts/setup.sh").read_text(), re.M) is not None,
          "scripts/setup.sh has no `build` profile")
    presets = json.loads((ROOT / "CMakePresets.json").read_text())
    check(any(p["name"] == "release" for p in presets["configurePresets"]) and
          any(p["name"] == "release" for p in presets["buildPresets"]),
          "CMakePresets.json has no release configure and build preset")

    runtime_runs = " ".join(a for w, a in runtime["instrs"] if w == "RUN")
    install = re.search(r"apt-get install ([^&;]*)", runtime_runs)
    packages = set(install.group(1).split()) - {"-y", "--no-install-recommends", "-qq"} \
        if install else set()
    check(packages == RUNTIME, f"runtime packages {sorted(packages)}, want {sorted(RUNTIME)}")
    check(not any(p.endswith("-dev") or p in ("build-essential", "cmake", "g++") for p in packages),
          "the runtime stage installs build tools")
    check("rm -rf /var/lib/apt/lists" in runtime_runs, "the runtime stage keeps apt's lists")
    check(any(w == "COPY" and a.startswith("--from=build") for w, a in runtime["instrs"]),
          "the runtime stage copies nothing from the build stage")

    users = [a for w, a in runtime["instrs"] if w == "USER"]
    check(len(users) == 1, f"expected one USER in the runtime stage, found {users}")
    if users:
        m = re.fullmatch(r"(\d+):(\d+)", users[0])
        check(m is not None and m.group(1) != "0" and m.group(2) != "0",
              f"USER {users[0]} is not a fixed non-root uid:gid")
        uid, gid = daemonset_ids()
        check(m is not None and (m.group(1), m.group(2)) == (uid, gid),
              f"USER {users[0]} differs from the DaemonSet's runAsUser/runAsGroup {uid}:{gid}")
    check(("EXPOSE", "8944") in runtime["instrs"], "no EXPOSE 8944")
    entry = [a for w, a in runtime["instrs"] if w == "ENTRYPOINT"]
    check(len(entry) == 1 and json.loads(entry[0]) ==
          ["/usr/bin/sre-agent", "--config.file=/etc/sre-agent/sre-agent.yaml"],
          f"ENTRYPOINT {entry}, want sre-agent --config.file=/etc/sre-agent/sre-agent.yaml")

    ignore = ROOT / ".dockerignore"
    lines = ignore.read_text().split("\n") if ignore.exists() else []
    check(any(l.strip() in ("build", "build/", "/build", "/build/") for l in lines),
          ".dockerignore at the repository root does not exclude build/")

    if len(sys.argv) > 1:
        binary = sys.argv[1]
        if not Path(binary).exists():
            print(f"SKIPPED (part): no {binary}: build first to check its libraries")
            return
        linked = linked_packages(binary)
        if linked is None:
            check(False, "objdump or dpkg is missing (binutils, dpkg)")
            return
        for lib, package in sorted(linked.items()):
            check(package in RUNTIME | BASE_IMAGE,
                  f"{binary} links {lib} from {package}, which the runtime stage does not install")
        print(f"ok: {binary} links {len(linked)} libraries, all in the runtime stage or base image")


if __name__ == "__main__":
    main()
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    if not failures:
        print(f"ok: {DOCKERFILE.relative_to(ROOT)} (static checks)")
    sys.exit(1 if failures else 0)
