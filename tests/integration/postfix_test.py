"""The postfix exporter of the built sre-agent and `sre-probe postfix` against a real postfix 3.7
(tests/integration/postfix.py starts it): queue depth per queue against `postqueue -j` on 1,000
queued messages, every family Debian's prometheus-postfix-exporter emits on the same showq socket
and log, and the three log sources (file, container logs, journal) on the same lines. Run by
ctest (label integration) with SRE_AGENT and SRE_PROBE set."""

import os
import subprocess
import tempfile
import time
import unittest

from journal import journal_tools, write_journal
from postfix import QUEUES, Postfix, PostfixExporterPeer, postfix_exporter_binary, postfix_tools
from support import Agent, assert_probe_json, find, parse_metrics, wait_for


def postfix_check(name, **keys):
    lines = [f"  - check: {name}", "    interval: 300ms", "    timeout: 250ms"]
    lines += [f"    {key}: \"{value}\"" for key, value in keys.items()]
    return "postfix:\n" + "\n".join(lines) + "\n"


class PostfixTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tools = postfix_tools(cls)

    def setUp(self):
        self.pf = Postfix(self.tools)
        self.addCleanup(self.pf.close)

    def start_agent(self, config):
        agent = Agent(config)
        self.addCleanup(agent.stop)
        return agent


    def test_depth_per_queue_matches_postqueue_on_1000_messages(self):
        ids = self.pf.send(1000, size=(500, 20000))
        self.pf.wait_settled(1000, timeout=60)
        self.pf.hold(ids[:150])
        self.pf.wait_settled(1000, timeout=60)
        expected = self.pf.depth_by_queue()
        self.assertEqual(sum(expected.values()), 1000)
        self.assertEqual(expected["hold"], 150)

        agent = self.start_agent(postfix_check("mail", showq_path=self.pf.showq_path))
        samples = agent.samples_when(
            lambda s: find(s, "postfix_showq_queue_depth", queue="hold"), "queue depth")
        for queue in QUEUES:
            self.assertEqual(find(samples, "postfix_showq_queue_depth", queue=queue),
                             [expected[queue]], queue)
            self.assertEqual(find(samples, "postfix_showq_message_size_bytes_count", queue=queue),
                             [expected[queue]], queue)
        self.assertEqual(find(samples, "postfix_up", path=self.pf.showq_path), [1])
        sizes = sum(m["message_size"] for m in self.pf.queue() if m["queue_name"] == "deferred")
        self.assertEqual(find(samples, "postfix_showq_message_size_bytes_sum", queue="deferred"),
                         [sizes])

        probe = subprocess.run([os.environ["SRE_PROBE"], "postfix", "--showq-path",
                                self.pf.showq_path, "--output", "json"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(probe.returncode, 0, probe.stdout + probe.stderr)
        report = assert_probe_json(self, probe.stdout)["results"][0]
        by_queue = {o["subject"]: o["figures"]["messages"] for o in report["observations"]}
        self.assertEqual(by_queue, {q: float(expected[q]) for q in QUEUES})
        text = subprocess.run([os.environ["SRE_PROBE"], "postfix", "--showq-path",
                               self.pf.showq_path], capture_output=True, text=True, timeout=30)
        self.assertRegex(text.stdout, r"\n  hold +ok .* oldest \d+[smhd].* messages 150\n")

    def test_without_the_postdrop_group_the_error_says_so(self):
        """public/ is postfix:postdrop 0710: another user cannot reach showq, and is told why;
        with postdrop as a supplementary group it can (as the agent's systemd unit sets up)."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run sre-probe as another user")
        probe = [os.environ["SRE_PROBE"], "postfix", "--showq-path", self.pf.showq_path]
        denied = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                 *probe], capture_output=True, text=True, timeout=30)
        self.assertEqual(denied.returncode, 2, denied.stdout + denied.stderr)
        self.assertIn("permission_denied", denied.stdout)
        self.assertIn("postdrop group", denied.stdout)
        allowed = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                                  "--groups=postdrop", *probe],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(allowed.returncode, 0, allowed.stdout + allowed.stderr)

    def test_every_family_of_prometheus_postfix_exporter(self):
        peer = PostfixExporterPeer(postfix_exporter_binary(self), self.pf.showq_path,
                                   self.pf.maillog)
        self.addCleanup(peer.close)
        agent = self.start_agent(postfix_check("mail", showq_path=self.pf.showq_path,
                                               log_file=self.pf.maillog))
        agent.wait_ready()
        # Mail after both started (both read the log from its end): deliveries deferred by a
        # relay that refuses, some held, and a few sent through sendmail (pickup).
        ids = self.pf.send(30, size=(500, 5000))
        self.pf.sendmail(3)
        self.pf.wait_settled(33)
        self.pf.hold(ids[:5])
        self.pf.wait_settled(33)

        theirs = wait_for(lambda: (f := peer.families()) >= {"postfix_smtp_delivery_delay_seconds",
                                                             "postfix_unsupported_log_entries_total"}
                          and f, what="the peer to count deliveries")
        ours = agent.samples_when(lambda s: find(s, "postfix_smtpd_connects_total")[0] > 0,
                                 "the agent to count connections") and peer.families(agent.metrics())
        self.assertFalse(theirs - ours, f"families only prometheus-postfix-exporter emits: "
                                        f"{sorted(theirs - ours)}")
        # Same counts where both count the same thing, once both have read the log to its end
        # (each reads on its own schedule: a loaded machine can catch one mid-way).
        for name in ("postfix_smtpd_connects_total", "postfix_cleanup_messages_processed_total",
                     "postfix_qmgr_messages_inserted_size_bytes_count"):
            def both(name=name):
                pair = (find(parse_metrics(agent.metrics()), name),
                        find(parse_metrics(peer.metrics()), name))
                return pair if pair[0] == pair[1] and pair[0] else None
            wait_for(both, what=f"{name} to agree with the peer")  # fails if they never do

    def test_the_three_log_sources_count_alike(self):
        """The same postfix lines from a plain file, a container log (CRI) and a journal file."""
        self.pf.send(10)
        self.pf.wait_settled(10)
        with open(self.pf.maillog) as f:
            lines = [line.rstrip("\n") for line in f if " postfix/" in line]
        work = tempfile.mkdtemp()
        os.chmod(work, 0o755)
        pods = os.path.join(work, "pods", "mail_postfix-0_uid", "postfix")
        os.makedirs(pods)
        with open(os.path.join(pods, "0.log"), "w") as f:
            for line in lines:
                # Long lines arrive split in partial records, as the container runtime writes them.
                head, tail = line[:40], line[40:]
                f.write(f"2026-11-28T03:00:00.1Z stdout P {head}\n")
                f.write(f"2026-11-28T03:00:00.2Z stdout F {tail}\n")
        journal = os.path.join(work, "mail.journal")
        entries = []
        now = int(time.time() * 1e6)
        for i, line in enumerate(lines):
            tag, message = line.split("]: ", 1)
            identifier = tag.split(" ")[-1].split("[")[0]
            entries.append((now + i, identifier, message))
        journal_tools(self)
        write_journal(journal, entries)
        agent = self.start_agent(
            postfix_check("file", showq_path="", log_file=self.pf.maillog, log_start="beginning") +
            postfix_check("pods", showq_path="", log_pods=os.path.join(work, "pods/*/postfix/*.log"),
                          log_start="beginning").replace("postfix:\n", "") +
            postfix_check("journal", showq_path="", log_journal=journal,
                          log_start="beginning").replace("postfix:\n", ""))
        self.addCleanup(subprocess.run, ["rm", "-rf", work])
        names = ("postfix_smtpd_connects_total", "postfix_cleanup_messages_processed_total",
                 "postfix_qmgr_messages_inserted_size_bytes_count")
        processed = "postfix_cleanup_messages_processed_total"
        samples = agent.samples_when(
            lambda s: all(find(s, processed, check=c) and find(s, processed, check=c)[0] >= 10
                          for c in ("file", "pods", "journal")),
            "all three sources to be read")
        for name in names:
            values = [find(samples, name, check=c) for c in ("file", "pods", "journal")]
            self.assertEqual(values[0], values[1], name)
            self.assertEqual(values[0], values[2], name)
        self.assertEqual(find(samples, "postfix_cleanup_messages_processed_total", check="file"),
                         [10])


if __name__ == "__main__":
    unittest.main()
