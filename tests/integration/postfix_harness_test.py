"""The postfix harness (postfix.py) against a real postfix 3.7: a private instance starts, takes
mail over SMTP and through sendmail, defers it all to a relay that refuses, holds what it is told
to, and its showq stream, `postqueue -j` and maillog agree; Debian's prometheus-postfix-exporter
reads the same instance; write_journal makes a journal file journalctl reads back. Each test
starts its own instance (about 0.35 s)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from journal import BOOT_ID, journal_tools, read_journal, write_journal
from postfix import (QUEUES, Postfix, PostfixExporterPeer, child_processes, parse_showq, pid_alive,
                     postfix_exporter_binary, postfix_tools, tcp_listening)
from support import find, parse_metrics, wait_for

SHOWQ_HEADER = b"protocol\0mail_queue_list_protocol\0\0"
BASE52 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"  # postfix's long queue ID alphabet
BASE51 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]"


def depths(**counts):
    return {name: counts.get(name, 0) for name in QUEUES}


class PostfixHarnessTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tools = postfix_tools(cls)

    def start(self, **kwargs) -> Postfix:
        pf = Postfix(self.tools, **kwargs)
        self.addCleanup(pf.close)
        return pf

    def fill(self, pf):
        """30 messages over SMTP (sizes 500 to 5000 bytes), 5 through sendmail, 10 of the SMTP
        ones held; returns (all IDs, held IDs) once the queue has settled."""
        ids = pf.send(30, size=(500, 5000))
        ids += pf.sendmail(5)
        self.assertEqual(len(set(ids)), 35, ids)
        pf.wait_settled(35)
        held = ids[:10]
        self.assertEqual(pf.hold(held), 10)
        pf.wait_settled(35)
        return ids, held

    def test_depths_showq_and_maillog_agree(self):
        pf = self.start()
        self.assertEqual(os.stat(pf.dir).st_mode & 0o777, 0o755)
        ids, held = self.fill(pf)
        self.assertEqual(pf.depth_by_queue(), depths(deferred=25, hold=10))
        messages = pf.queue()
        self.assertEqual({m["queue_id"] for m in messages}, set(ids))
        self.assertEqual({m["queue_id"] for m in messages if m["queue_name"] == "hold"}, set(held))
        sizes = [m["message_size"] for m in messages]
        self.assertGreater(max(sizes) - min(sizes), 4000, sizes)
        # Every delivery attempt was refused by the relay port: no DNS, no other outcome.
        for message in messages:
            if message["queue_name"] == "deferred":
                self.assertRegex(message["recipients"][0]["delay_reason"],
                                 rf"127\.0\.0\.1\]:{pf.relay_port}: Connection refused")

        raw = pf.read_showq()
        self.assertTrue(raw.startswith(SHOWQ_HEADER), raw[:60])
        self.assertTrue(raw.endswith(b"\0\0\0"), raw[-60:])
        self.assertEqual(raw.count(b"queue_id\0"), 35)
        records = parse_showq(raw)
        self.assertEqual(
            sorted((r["queue_name"], r["queue_id"], int(r["size"])) for r in records),
            sorted((m["queue_name"], m["queue_id"], m["message_size"]) for m in messages))

        log = pf.log_tail(10000)
        self.assertIn("postfix/smtpd[", log)
        self.assertIn("postfix/qmgr[", log)
        self.assertIn("postfix/pickup[", log)
        self.assertRegex(log, rf"postfix/postsuper\[\d+\]: {held[0]}: placed on hold")
        self.assertIn(f"configuration {pf.etc}", log)  # the master's "daemon started" line

    def test_short_and_long_queue_ids(self):
        short = self.start()
        long = self.start(long_queue_ids=True)
        short_ids = short.send(3) + short.sendmail(1)
        long_ids = long.send(3) + long.sendmail(1)
        for pf, ids in ((short, short_ids), (long, long_ids)):
            pf.wait_settled(4)
            self.assertEqual(sorted(r["queue_id"] for r in parse_showq(pf.read_showq())),
                             sorted(ids))
        # Short: upper-case hex (5 digits of microseconds, then the inode). Long (mail_queue.h):
        # seconds (6 or more) and microseconds (4) in base 52 (digits and consonants, "z"
        # included), "z", the inode in base 51 (no "z"): the last "z" separates them.
        for queue_id in short_ids:
            self.assertRegex(queue_id, r"^[0-9A-F]{6,}$")
        for queue_id in long_ids:
            self.assertTrue(re.search("[a-z]", queue_id) or len(queue_id) > 12, queue_id)
            self.assertRegex(queue_id, rf"^{BASE52}{{10,}}z{BASE51}+$")
        self.assertEqual(long.postconf("-h", "enable_long_queue_ids").strip(), "yes")

    def test_postfix_exporter_peer_reads_the_instance(self):
        pf = self.start()
        with PostfixExporterPeer(postfix_exporter_binary(self), pf.showq_path, pf.maillog) as peer:
            self.fill(pf)
            samples = parse_metrics(peer.metrics())
            self.assertEqual(find(samples, "postfix_up", path=pf.showq_path), [1.0])
            for queue, count in depths(deferred=25, hold=10).items():
                self.assertEqual(find(samples, "postfix_showq_message_size_bytes_count",
                                      queue=queue), [float(count)], queue)
            families = peer.families()
            self.assertLessEqual({"postfix_up", "postfix_showq_message_size_bytes",
                                  "postfix_showq_message_age_seconds",
                                  "postfix_smtpd_connects_total"}, families)
            # It tails the maillog: the one SMTP connection and the 35 messages cleanup took.
            wait_for(lambda: find(parse_metrics(peer.metrics()),
                                  "postfix_cleanup_messages_processed_total") == [35.0],
                     timeout=5, what="the exporter to count cleanup's 35 messages")
            samples = parse_metrics(peer.metrics())
            self.assertEqual(find(samples, "postfix_smtpd_connects_total"), [1.0])
        self.assertIsNotNone(peer.process.poll())

    def test_close_stops_every_process_and_removes_the_dir(self):
        pf = Postfix(self.tools)
        try:
            pf.send(1)
            pf.wait_settled(1)
            master = pf.master_pid
            daemons = [pid for pid, _ in child_processes(master)]
            self.assertTrue(pid_alive(master))
            # master.cf's standing daemons, plus smtpd and smtp from the delivery above.
            names = set()
            for pid in daemons:
                with open(f"/proc/{pid}/comm") as f:
                    names.add(f.read().strip())
            self.assertLessEqual({"pickup", "qmgr", "postlogd", "smtpd"}, names)
            directory, port = pf.dir, pf.smtp_port
        finally:
            pf.close()
        self.assertFalse(pid_alive(master))
        self.assertEqual([pid for pid in daemons if pid_alive(pid)], [])
        self.assertFalse(os.path.exists(directory))
        self.assertFalse(tcp_listening(port))
        pf.close()  # idempotent


class WriteJournalTest(unittest.TestCase):
    """Needs systemd-journal-remote and journalctl, not postfix."""

    def test_write_journal_round_trip(self):
        remote, journalctl = journal_tools(self)
        directory = tempfile.mkdtemp(prefix="journal-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "postfix.journal")
        t0 = 1_700_000_000_000_000
        entries = [
            (t0, "postfix/smtpd", "connect from unknown[127.0.0.1]", {"SYSLOG_PID": 101}),
            (t0 + 1000, "postfix/qmgr", "4A416A72509: from=<a@b>, size=500, nrcpt=1 "
                                         "(queue active)", {"SYSLOG_PID": 102}),
            (t0 + 2000, "postfix/smtp", "two\nlines and \u00e9"),
        ]
        self.assertEqual(write_journal(path, entries, binary=remote), path)
        cat = subprocess.run([journalctl, f"--file={path}", "-o", "cat", "--no-pager"],
                             stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
        self.assertEqual(cat, "connect from unknown[127.0.0.1]\n"
                              "4A416A72509: from=<a@b>, size=500, nrcpt=1 (queue active)\n"
                              "two\nlines and \u00e9\n")
        read = read_journal(path, journalctl)
        self.assertEqual([(int(e["__REALTIME_TIMESTAMP"]), e["SYSLOG_IDENTIFIER"]) for e in read],
                         [(t0, "postfix/smtpd"), (t0 + 1000, "postfix/qmgr"),
                          (t0 + 2000, "postfix/smtp")])
        self.assertEqual(read[0]["SYSLOG_PID"], "101")
        self.assertEqual({e["_BOOT_ID"] for e in read}, {BOOT_ID})
        self.assertEqual({e["SYSLOG_FACILITY"] for e in read}, {"2"})
        # A second call appends.
        write_journal(path, [(t0 + 3000, "postfix/cleanup", "more")], binary=remote)
        self.assertEqual(len(read_journal(path, journalctl)), 4)
        with self.assertRaises(ValueError):
            write_journal(os.path.join(directory, "x.log"), entries, binary=remote)


if __name__ == "__main__":
    unittest.main()
