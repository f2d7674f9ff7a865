"""Real journal files for tests: entries in journal export format piped to
systemd-journal-remote, which writes the same file format journald does, read back with
journalctl. Stdlib only; needs the packages systemd-journal-remote and systemd."""

import json
import os
import struct
import subprocess

from postfix import _missing, _which

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def journal_tools(test) -> tuple:
    """(systemd-journal-remote, journalctl); when one is missing, fails in CI and skips loudly
    elsewhere. journal-remote is package systemd-journal-remote, journalctl package systemd."""
    remote = JOURNAL_REMOTE if os.access(JOURNAL_REMOTE, os.X_OK) else None
    journalctl = _which("journalctl")
    if not remote or not journalctl:
        _missing(test, f"{'systemd-journal-remote' if not remote else 'journalctl'} is not "
                       "installed (run scripts/setup.sh test: packages systemd-journal-remote, "
                       "systemd)")
    return remote, journalctl


# --- journal files --------------------------------------------------------------------------------

BOOT_ID = "5f1c0a7e2b4d4e8f9a6b3c2d1e0f4a5b"  # fixed, so tests can match on _BOOT_ID


def _export_field(name: str, value) -> bytes:
    """One field in journal export format: `NAME=value\\n`, or, for a value holding a newline or
    non-UTF-8 bytes, `NAME\\n` + little-endian 64-bit length + value + `\\n`."""
    if isinstance(value, int):
        value = str(value)
    data = value.encode() if isinstance(value, str) else bytes(value)
    if b"\n" in data:
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    try:
        data.decode()
    except UnicodeDecodeError:
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


def journal_export(entries, hostname="localhost") -> bytes:
    """`entries` in journal export format; see write_journal."""
    entries = list(entries)
    first = min((e[0] for e in entries), default=0)
    out = bytearray()
    for entry in entries:
        realtime, identifier, message = entry[:3]
        extra = entry[3] if len(entry) > 3 else {}
        fields = {
            "__REALTIME_TIMESTAMP": realtime,
            # Since "boot": a second before the first entry, so it orders like realtime.
            "__MONOTONIC_TIMESTAMP": realtime - first + 1_000_000,
            "_BOOT_ID": BOOT_ID,
            "_HOSTNAME": hostname,
            "_TRANSPORT": "syslog",
            "PRIORITY": 6,
            "SYSLOG_FACILITY": 2,  # mail
            "SYSLOG_IDENTIFIER": identifier,
            "MESSAGE": message,
        }
        fields.update(extra)
        for name, value in fields.items():
            out += _export_field(name, value)
        out += b"\n"
    return bytes(out)


def write_journal(path, entries, binary=JOURNAL_REMOTE, hostname="localhost") -> str:
    """Writes a real journal file at `path` (which must end in .journal; an existing file is
    appended to) from `entries`: (realtime_usec, syslog_identifier, message) tuples, with an
    optional fourth item, a dict of extra fields (e.g. {"SYSLOG_PID": 123}) that may override the
    defaults. Each entry gets _BOOT_ID = BOOT_ID, _HOSTNAME, _TRANSPORT=syslog, PRIORITY=6 and
    SYSLOG_FACILITY=2 (mail). Pipes the export format to `systemd-journal-remote --output=PATH -`;
    raises with its stderr when it fails. Returns `path`."""
    if not str(path).endswith(".journal"):
        raise ValueError(f"{path}: systemd-journal-remote wants a name ending in .journal")
    result = subprocess.run([binary, f"--output={path}", "-"], input=journal_export(
        entries, hostname), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"systemd-journal-remote exited with {result.returncode}: "
                           f"{result.stderr.decode(errors='replace')}")
    return str(path)


def read_journal(path, journalctl="journalctl") -> list:
    """Every entry of the journal file as a dict, via `journalctl --file=PATH -o json`
    (a value with a newline comes back as a string, a non-UTF-8 one as a list of byte values)."""
    result = subprocess.run([journalctl, f"--file={path}", "-o", "json", "--no-pager"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"journalctl exited with {result.returncode}: "
                           f"{result.stderr.decode(errors='replace')}")
    return [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]
