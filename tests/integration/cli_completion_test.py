"""sre-probe's shell completions and man page, generated from the table that prints --help: the
bash script loaded under `set -u` without bash-completion and driven through COMP_WORDS, the zsh
script loaded after compinit and driven through zsh's line editor on a pseudo-terminal, the man
page rendered by groff and man without warnings. Run by ctest (label integration) with SRE_PROBE
set."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import tempfile
import termios
import time
import unittest

from support import require_tool


def probe(*args):
    return subprocess.run([os.environ["SRE_PROBE"], *args], capture_output=True, text=True,
                          timeout=30)


def help_table():
    """{command: set of flags} as `sre-probe --help` and `sre-probe COMMAND --help` list them."""
    main = probe("--help").stdout
    commands = {}
    for line in main.split("Commands:\n")[1].split("\n\n")[0].splitlines():
        name = line[2:18].strip()  # MainUsage's first column, 16 wide: "config validate"
        usage = probe(*name.split(), "--help")
        assert usage.returncode == 0, (name, usage.stderr)
        commands[name] = set(re.findall(r"^  --([\w.-]+)", usage.stdout, re.MULTILINE))
    return commands


class BashCompletionTest(unittest.TestCase):
    # Plain bash -c: no bashrc, so no bash-completion and no _init_completion.
    COMPLETE = """set -u
source <("$SRE_PROBE" completion bash)
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_sre_probe
printf '%s\\n' "${COMPREPLY[@]}"
"""

    def complete(self, *words, cwd=None):
        result = subprocess.run(["bash", "-c", self.COMPLETE, "bash", "sre-probe", *words],
                                capture_output=True, text=True, timeout=30, cwd=cwd)
        self.assertEqual((result.returncode, result.stderr), (0, ""), words)
        return [line for line in result.stdout.splitlines() if line]

    def test_loads_under_set_u_without_bash_completion(self):
        result = subprocess.run(
            ["bash", "-c", 'set -u; source <("$SRE_PROBE" completion bash); complete -p sre-probe; '
             "if type _init_completion >/dev/null 2>&1; then echo bash-completion is loaded; fi"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        self.assertEqual(result.stdout, "complete -F _sre_probe sre-probe\n")

    def test_completes_commands_flags_and_values(self):
        cases = {
            ("t",): ["tcp"],
            ("tcp", "--ou"): ["--output", "--output="],
            ("tcp", "--output", "j"): ["json"],
            ("tcp", "--output", "=", "n"): ["nagios"],  # --output=n, split at "=" by bash
            ("tcp", "--output", "="): ["text", "json", "prom", "nagios"],
            ("tcp", "--output=p"): ["--output=prom"],  # when COMP_WORDBREAKS lacks "="
            ("config", "v"): ["validate"],
            ("alert", ""): ["test"],
            ("alert", "test", "am", "--con"): ["--config", "--config="],
            ("completion", ""): ["bash", "zsh"],
            ("http", "--no"): ["--no-follow"],
            ("tcp", "--timeout", ""): [],  # any duration: nothing to suggest
            ("tcp", ""): [],  # HOST:PORT: flags only once "-" is typed
            ("nope", "--"): [],
        }
        for words, expected in cases.items():
            with self.subTest(words=words):
                self.assertEqual(self.complete(*words), expected)

    def test_completes_file_names_for_file_flags_and_arguments(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("sre-agent.yaml", "sre-agent.yaml.bak", "other.txt"):
                open(os.path.join(tmp, name), "w").close()
            expected = ["sre-agent.yaml", "sre-agent.yaml.bak"]
            self.assertEqual(sorted(self.complete("check", "--config", "sre", cwd=tmp)), expected)
            self.assertEqual(sorted(self.complete("check", "--config", "=", "sre", cwd=tmp)),
                             expected)
            self.assertEqual(self.complete("config", "validate", "o", cwd=tmp), ["other.txt"])
            self.assertEqual(self.complete("alert", "test", "am", "--config", "o", cwd=tmp),
                             ["other.txt"])

    def test_lists_what_help_lists(self):
        table = help_table()
        self.assertEqual(self.complete(""), list(dict.fromkeys(n.split()[0] for n in table)))
        for name, flags in table.items():
            with self.subTest(command=name):
                offered = self.complete(*name.split(), "--")
                self.assertEqual({f.removeprefix("--").rstrip("=") for f in offered}, flags)


class ZshCompletionTest(unittest.TestCase):
    def setUp(self):
        self.zsh = require_tool(self, "zsh")
        self.home = tempfile.TemporaryDirectory()  # compinit -D writes no dump; this is a fence
        self.env = {**os.environ, "HOME": self.home.name, "TERM": "dumb"}

    def tearDown(self):
        self.home.cleanup()

    def test_loads_after_compinit(self):
        result = subprocess.run(
            [self.zsh, "-f", "-c", 'autoload -U compinit; compinit -u -D; '
             'source <("$SRE_PROBE" completion zsh); '
             '(( $+functions[_sre_probe] )) && print -r -- "defined as $_comps[sre-probe]"'],
            capture_output=True, text=True, timeout=30, env=self.env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        self.assertEqual(result.stdout, "defined as _sre_probe\n")

    def test_loads_from_fpath(self):
        with open(os.path.join(self.home.name, "_sre_probe"), "w") as f:
            f.write(probe("completion", "zsh").stdout)
        result = subprocess.run(
            [self.zsh, "-f", "-c", f"fpath=({self.home.name} $fpath); autoload -U compinit; "
             "compinit -u -D; print -r -- $_comps[sre-probe]"],
            capture_output=True, text=True, timeout=30, env=self.env)
        self.assertEqual((result.returncode, result.stderr, result.stdout), (0, "", "_sre_probe\n"))

    # compadd, recording the matches it adds. Calls with -O, -A or -D only filter a list for
    # compsys and add nothing, so they pass straight through.
    RECORD_COMPADD = """compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return; fi
  local -a matches
  builtin compadd -O matches "$@"
  print -rl -- $matches >> HITS
  builtin compadd "$@"
}
"""

    def complete_on_terminal(self, typed, setup):
        """What zsh offers for TAB after `typed`: an interactive zsh on a pty that runs `setup`
        (compinit and the script), with compadd wrapped to write each match it is given to a
        file."""
        hits = os.path.join(self.home.name, "hits")
        open(hits, "w").close()
        master, slave = pty.openpty()
        # A large window, so zsh lists matches instead of asking whether to.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
        shell = subprocess.Popen([self.zsh, "-f", "-i"], stdin=slave, stdout=slave, stderr=slave,
                                 env=self.env, cwd=self.home.name)
        os.close(slave)
        try:
            os.write(master, (setup + self.RECORD_COMPADD.replace("HITS", hits) +
                              "PS1='ZP''> '; print -r -- RE''ADY\n").encode())
            # Type only once zle shows the prompt after READY: keys sent before it reads can be
            # lost on a loaded machine.
            self.read_until(master, b"READY\r\n", then=b"ZP> ")
            # TAB, then kill the line and print a marker: zle handles keys in order, so the
            # marker shows once the completion is over.
            os.write(master, typed.encode() + b"\t\x15print -r -- DO''NE\n")
            screen = self.read_until(master, b"DONE")
        finally:
            shell.kill()
            shell.wait()
            os.close(master)
        with open(hits) as f:
            return sorted(set(f.read().split())), screen.decode(errors="replace")

    def read_until(self, fd, marker, timeout=20.0, then=None):
        """Output up to `marker` and a line end, or, with `then`, up to `then` after `marker`."""
        def done(seen):
            if then is None:
                return marker + b"\r\n" in seen
            at = seen.find(marker)
            return at >= 0 and then in seen[at + len(marker):]
        seen = b""
        deadline = time.monotonic() + timeout
        while not done(seen):
            self.assertLess(time.monotonic(), deadline, f"no {marker} from zsh: {seen[-500:]}")
            if select.select([fd], [], [], 0.1)[0]:
                seen += os.read(fd, 65536)
        return seen

    def test_completes_on_a_terminal(self):
        open(os.path.join(self.home.name, "sre-agent.yaml"), "w").close()
        sourced = 'autoload -U compinit; compinit -u -D; source <("$SRE_PROBE" completion zsh)\n'
        cases = {
            "sre-probe t": ["tcp"],
            "sre-probe tcp --ou": ["--output"],
            "sre-probe tcp --output ": ["json", "nagios", "prom", "text"],
            "sre-probe tcp --output=j": ["json"],
            "sre-probe config v": ["validate"],
            "sre-probe alert test am --con": ["--config"],
            "sre-probe check --config=sre-": ["sre-agent.yaml"],
            "sre-probe completion ": ["bash", "zsh"],
        }
        for typed, expected in cases.items():
            with self.subTest(typed=typed):
                self.assertEqual(self.complete_on_terminal(typed, sourced)[0], expected)
        # The listing shows each flag's help, colons and quotes as written.
        _, screen = self.complete_on_terminal("sre-probe tcp --t", sourced)
        self.assertRegex(screen, r"--timeout +-- give up after this long \(default: 5s\)")
        self.assertRegex(screen, r"--tls-ca-file +-- CA bundle .*\(default: the system's\)")
        with open(os.path.join(self.home.name, "_sre_probe"), "w") as f:
            f.write(probe("completion", "zsh").stdout)
        autoloaded = f"fpath=({self.home.name} $fpath); autoload -U compinit; compinit -u -D\n"
        self.assertEqual(self.complete_on_terminal("sre-probe tcp --ou", autoloaded)[0],
                         ["--output"])


class ManPageTest(unittest.TestCase):
    def setUp(self):
        self.page = probe("man")
        self.assertEqual((self.page.returncode, self.page.stderr), (0, ""))

    def test_groff_renders_it_without_warnings(self):
        groff = require_tool(self, "groff")
        result = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z"], input=self.page.stdout,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual((result.returncode, result.stderr), (0, ""))

    def test_man_shows_every_command_and_flag_within_80_columns(self):
        man = require_tool(self, "man")
        env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}
        result = subprocess.run([man, "--warnings", "-l", "-"], input=self.page.stdout, env=env,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        text = result.stdout
        self.assertIn("NAME\n       sre-probe - run a monitoring check once", text)
        for section in ("SYNOPSIS", "DESCRIPTION", "COMMANDS", "OUTPUT", "EXIT STATUS",
                        "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
            self.assertRegex(text, f"(?m)^{section}$")
        for name, flags in help_table().items():
            self.assertIn(f"   sre-probe {name}", text)
            for flag in flags:
                self.assertIn(f"--{flag}", text)
        self.assertIn("sre-probe tcp db.internal:5432", text)  # `\-` renders as ASCII "-"
        self.assertEqual([l for l in text.splitlines() if len(l) > 80], [])


class UsageTest(unittest.TestCase):
    def test_unknown_shell_says_what_was_expected(self):
        for args in (["completion", "fish"], ["completion"], ["man", "extra"]):
            with self.subTest(args=args):
                result = probe(*args)
                self.assertEqual((result.returncode, result.stdout), (3, ""))
                self.assertRegex(result.stderr, r"^sre-probe: [^\n]*expected[^\n]*\n$")


if __name__ == "__main__":
    unittest.main()
