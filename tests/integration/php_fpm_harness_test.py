"""The php-fpm harness (php_fpm.py) against a real php-fpm 8.2: pools start and answer /ping, the
status pages parse, and BusyWorkers saturates a pool the way the exporter's tests need. Each test
starts its own php-fpm (about 0.1 s) so a saturated pool never leaks into the next test."""

import os
import unittest

from php_fpm import BusyWorkers, PhpFpm, Pool, fcgi_get, php_fpm_binary, status_json


class PhpFpmHarnessTest(unittest.TestCase):

    def setUp(self):
        self.fpm = PhpFpm(php_fpm_binary(self), [
            Pool("www"),
            Pool("tcp", "tcp", children=2, status_listen=True),
        ])
        self.addCleanup(self.fpm.close)
        self.www, self.tcp = self.fpm.pools

    def test_addresses_and_scrape_uris(self):
        self.assertEqual(self.www.address, os.path.join(self.fpm.dir, "www.sock"))
        self.assertEqual(self.www.scrape_uri, f"unix://{self.www.address};/status")
        self.assertIsNone(self.www.status_address)
        host, port = self.tcp.address
        self.assertEqual(self.tcp.scrape_uri, f"tcp://{host}:{port}/status")
        host, port = self.tcp.status_address
        self.assertEqual(self.tcp.status_scrape_uri, f"tcp://{host}:{port}/status")
        self.assertNotEqual(self.tcp.address, self.tcp.status_address)

    def test_ping_and_slow_script(self):
        for pool in self.fpm.pools:
            status, _, body = fcgi_get(pool.address, "/ping")
            self.assertEqual((status, body), (200, b"pong"))
        status, headers, body = fcgi_get(self.www.address, "/slow.php", "ms=1",
                                         self.fpm.slow_script)
        self.assertEqual((status, body), (200, b"done"))
        self.assertIn("text/html", headers["content-type"])
        status, _, _ = fcgi_get(self.www.address, "/missing.php", "",
                                os.path.join(self.fpm.dir, "docroot", "missing.php"))
        self.assertEqual(status, 404)

    def test_json_status_of_both_pools(self):
        for pool, address in ((self.www, self.www.address), (self.tcp, self.tcp.address),
                              (self.tcp, self.tcp.status_address)):
            with self.subTest(address=address):
                status = status_json(address)
                # status_listen runs a pool of its own ("tcp_status") yet reports the pool it
                # serves.
                self.assertEqual(status["pool"], pool.name)
                self.assertEqual(status["process manager"], "static")
                self.assertEqual(status["total processes"], pool.children)
                self.assertEqual(len(status["processes"]), pool.children)
        self.assertNotIn("processes", status_json(self.tcp.status_address, full=False))

    def test_saturated_tcp_pool(self):
        with BusyWorkers(self.tcp.address, 2, self.fpm.slow_script, queued=3, ms=4000) as busy:
            status = busy.wait_all_busy(self.tcp, timeout=5)
            self.assertEqual((status["active processes"], status["idle processes"]), (2, 0))
            # The pool's own port: the request waits in the listen queue behind busy workers.
            with self.assertRaises(TimeoutError):
                fcgi_get(self.tcp.address, "/status", "json", timeout=0.5)
            # The master samples the queue once a second; status_listen still answers.
            status = busy.wait_listen_queue(self.tcp, minimum=1, timeout=3)
            self.assertGreater(status["listen queue"], 0)
            self.assertEqual(status["active processes"], 2)
            slow = [p for p in status_json(self.tcp.status_address)["processes"]
                    if p["request uri"] == "/slow.php?ms=4000"]
            self.assertEqual([p["state"] for p in slow], ["Running", "Running"])

    def test_close_stops_every_process_and_removes_the_dir(self):
        workers = self.fpm.worker_pids()
        titles = []
        for pid in workers:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                titles.append(f.read().rstrip(b"\0").decode())
        # status_listen runs a pool of its own, "tcp_status", whose workers are spawned on
        # demand: 1 or 2 of them, depending on the status requests it has seen.
        self.assertEqual(titles.count("php-fpm: pool www"), 1, titles)
        self.assertEqual(titles.count("php-fpm: pool tcp"), 2, titles)
        self.assertIn("php-fpm: pool tcp_status", titles)
        pids = [self.fpm.pid] + workers
        directory = self.fpm.dir
        self.fpm.close()
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"pid {pid} still runs")
        self.assertFalse(os.path.exists(directory))

    def test_bad_config_fails_with_the_log(self):
        with self.assertRaisesRegex(RuntimeError, "request_slowlog_timeout"):
            PhpFpm(php_fpm_binary(self), [Pool("bad", request_slowlog_timeout="nonsense")])


if __name__ == "__main__":
    unittest.main()
