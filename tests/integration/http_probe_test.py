"""HTTP SLA probes on the built sre-agent against real loopback HTTP(S) servers: /probe compared
with blackbox_exporter on the same targets, and ten backends behind one dnsmasq name with one
failing. Run by ctest (label integration) with SRE_AGENT set."""

import datetime
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import unittest

from support import (Agent, Blackbox, Dnsmasq, assert_probe_json, find, free_port, parse_metrics,
                     require_tool, wait_for)

LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


class Handler(http.server.BaseHTTPRequestHandler):
    """/ok answers 200, /redirect 302 to /ok, /missing 404; a server marked broken answers 500."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if getattr(self.server, "broken", False):
            self.reply(500, b"broken")
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/ok"):
            self.reply(200, b"hello from " + self.server.server_address[0].encode())
        else:
            self.reply(404, b"not here")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server:
    """A threaded HTTP(S) server on a loopback address, stopped on close()."""

    def __init__(self, host="127.0.0.1", port=0, tls=None, broken=False):
        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.broken = broken
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def make_pki(directory):
    """A CA, a leaf for localhost valid for 30 days and one that expired yesterday, as PEM files:
    {"ca": path, "good": (cert, key), "expired": (cert, key)}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sre-agent tests")])

    def write(file_name, data):
        path = os.path.join(directory, file_name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - day).not_valid_after(now + 365 * day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    files = {"ca": write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))}
    for label, start, end in (("good", now - day, now + 30 * day),
                              ("expired", now - 3 * day, now - day)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        files[label] = (
            write(f"{label}.pem", cert.public_bytes(serialization.Encoding.PEM)),
            write(f"{label}.key", key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())))
    return files


def modules(ca_file):
    return f"""\
  modules:
    http_2xx:
      prober: http
      timeout: 5s
      http:
        preferred_ip_protocol: ip4
        tls_config: {{ca_file: {ca_file}}}
"""


def families(text):
    """{name: type} of a text-format body."""
    return {line.split()[2]: line.split()[3] for line in text.splitlines()
            if line.startswith("# TYPE ")}


def series(text):
    """{(name, sorted labels): value}."""
    return {(n, tuple(sorted(l.items()))): v for n, l, v in parse_metrics(text)}


class BlackboxParityTest(unittest.TestCase):
    """The agent's /probe and blackbox_exporter 0.23 probe the same targets with the same module:
    same families, labels and values for everything that is not a duration."""

    COMPARED = ("probe_success", "probe_http_status_code", "probe_http_redirects",
                "probe_http_ssl", "probe_http_version", "probe_http_content_length",
                "probe_http_uncompressed_body_length", "probe_http_last_modified_timestamp_seconds",
                "probe_failed_due_to_regex", "probe_ip_protocol", "probe_ip_addr_hash",
                "probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds",
                "probe_ssl_last_chain_info", "probe_tls_version_info")

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.pki = make_pki(cls.dir)
        cls.plain = Server()
        cls.good = Server(tls=cls.pki["good"])
        cls.expired = Server(tls=cls.pki["expired"])
        cls.agent = Agent("probe:\n  allow: [127.0.0.1, localhost]\n" + modules(cls.pki["ca"]))
        cls.agent.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        for server in (cls.plain, cls.good, cls.expired):
            server.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ours(self, target):
        status, _, body = self.agent.get(f"/probe?module=http_2xx&target={target}")
        self.assertEqual(status, 200, body)
        return body.decode()

    def test_same_families_and_values_as_blackbox_exporter(self):
        binary = require_tool(self, "prometheus-blackbox-exporter")
        blackbox = Blackbox(binary, "modules:" + modules(self.pki["ca"]).split("modules:", 1)[1])
        try:
            p = self.plain.port
            for target, success in ((f"http://127.0.0.1:{p}/ok", 1),
                                    (f"http://127.0.0.1:{p}/redirect", 1),
                                    (f"http://127.0.0.1:{p}/missing", 0),
                                    (f"https://localhost:{self.good.port}/ok", 1)):
                with self.subTest(target=target):
                    theirs = blackbox.probe("http_2xx", target)
                    ours = self.ours(target)
                    self.assertEqual(families(ours), families(theirs), ours + "\n" + theirs)
                    ours_series, theirs_series = series(ours), series(theirs)
                    self.assertEqual(set(ours_series), set(theirs_series))
                    for key, value in theirs_series.items():
                        if key[0] in self.COMPARED:
                            self.assertEqual(ours_series[key], value, key)
                    self.assertEqual(find(parse_metrics(ours), "probe_success"), [success])
            redirect = parse_metrics(self.ours(f"http://127.0.0.1:{p}/redirect"))
            self.assertEqual(find(redirect, "probe_http_redirects"), [1.0])
        finally:
            blackbox.close()

    def test_expired_certificate_fails_but_keeps_its_expiry(self):
        samples = parse_metrics(self.ours(f"https://localhost:{self.expired.port}/ok"))
        self.assertEqual(find(samples, "probe_success"), [0.0])
        expiry = find(samples, "probe_ssl_earliest_cert_expiry")
        self.assertEqual(len(expiry), 1, samples)
        self.assertLess(expiry[0], datetime.datetime.now().timestamp())


class EveryAddressTest(unittest.TestCase):
    """Ten backends behind one name, 127.0.0.7 answering 500: the agent reports exactly that
    address failing and one SLA violation that names it, on /metrics and the landing page."""

    def test_one_bad_backend_of_ten(self):
        dnsmasq_binary = require_tool(self, "dnsmasq")
        first = Server()
        port = first.port
        servers = [first] + [Server(f"127.0.0.{i}", port, broken=(i == 7)) for i in range(2, 11)]
        dns = Dnsmasq(dnsmasq_binary, {"web.test": [f"127.0.0.{i}" for i in range(1, 11)]})
        url = f"http://web.test:{port}/ok"
        agent = Agent(f"""\
http_probe:
  - check: web
    url: {url}
    interval: 1s
    dns_servers: ["127.0.0.1:{dns.port}"]
    labels: {{location: loopback}}
""")
        try:
            agent.wait_ready()
            samples = parse_metrics(agent.metrics())
            for i in range(1, 11):
                address = f"127.0.0.{i}"
                with self.subTest(address=address):
                    self.assertEqual(find(samples, "probe_success", check="web", address=address,
                                          location="loopback"), [0.0 if i == 7 else 1.0])
            self.assertEqual(find(samples, "probe_failure_info", address="127.0.0.7",
                                  reason="status_mismatch"), [1.0])
            self.assertEqual(find(samples, "probe_sla_violation_open", check="web"), [1.0])
            self.assertEqual(find(samples, "probe_sla_violations_total", check="web"), [1.0])
            landing = agent.get("/")[2].decode()
            self.assertIn("127.0.0.7: status_mismatch", landing)
            self.assertEqual(landing.count("failing since"), 1, landing)
        finally:
            agent.stop()
            dns.close()
            for server in servers:
                server.close()


class ProbeCommandTest(unittest.TestCase):
    """`sre-probe http` runs the same probe once: Nagios exit codes, JSON, certificate details."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.pki = make_pki(cls.dir)
        cls.plain = Server()
        cls.tls = Server(tls=cls.pki["good"])

    @classmethod
    def tearDownClass(cls):
        cls.plain.close()
        cls.tls.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_probe(self, *args):
        return subprocess.run([os.environ["SRE_PROBE"], "http", *args], capture_output=True,
                              text=True, timeout=30)

    def test_exit_codes_follow_the_status_rules(self):
        base = f"http://127.0.0.1:{self.plain.port}"
        self.assertEqual(self.run_probe(f"{base}/ok").returncode, 0)
        missing = self.run_probe(f"{base}/missing")
        self.assertEqual(missing.returncode, 2, missing.stdout)
        self.assertIn("status_mismatch", missing.stdout)
        self.assertEqual(self.run_probe(f"{base}/missing", "--expect-status", "404").returncode, 0)
        self.assertEqual(self.run_probe(f"{base}/redirect", "--no-follow").returncode, 2)

    def test_json_has_status_phases_and_certificate(self):
        result = self.run_probe(f"https://localhost:{self.tls.port}/ok", "--tls-ca-file",
                                self.pki["ca"], "--output", "json", "--header", "X-Probe: 1")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        report = assert_probe_json(self, result.stdout)["results"][0]
        (observation,) = report["observations"]
        self.assertEqual(observation["subject"], "127.0.0.1")
        self.assertEqual(observation["figures"]["status"], 200)
        self.assertGreater(observation["figures"]["tls_seconds"], 0)
        self.assertEqual(observation["details"]["certificate_subject"],
                         "CN=localhost,O=sre-agent tests")
        self.assertEqual(observation["details"]["certificate_issuer"],
                         "CN=Test CA,O=sre-agent tests")
        self.assertEqual(observation["figures"]["certificate_days_left"], 29)


if __name__ == "__main__":
    unittest.main()
