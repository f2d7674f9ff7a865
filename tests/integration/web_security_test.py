"""The agent's endpoint behind --web.config.file (the exporter toolkit's format), tried with curl
as an operator would: TLS, mTLS accepted and refused, basic auth accepted and refused, plain HTTP
to a TLS port, every endpoint; reloads that change the certificate under a running scraper; and
the limits (header and body size, connection limit, a slowloris holding 500 connections)."""

import datetime
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from support import Agent, Peers, require_tool, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libcrypt's bcrypt, the same library the agent checks hashes with

PASSWORD = "correct horse"
ENDPOINTS = ["/", "/metrics", "/-/healthy", "/-/ready", "/probe?module=tcp_connect&target=127.0.0.1:{tcp}"]
AGENT_CONFIG = """\
probe:
  allow: [127.0.0.1]
  modules:
    tcp_connect:
      prober: tcp
      timeout: 2s
"""


def bcrypt(password):
    # Cost 4, the lowest bcrypt allows, keeps the suite fast; the agent takes any cost.
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


def make_pki(directory):
    """PEM files: a CA; two server certificates for localhost from it (`server`, `server2`, told
    apart by serial); a client certificate from it with SAN prometheus.example (`client`); one
    with another SAN (`client_other_san`); and a client certificate from an unknown CA
    (`stranger`). Returns {name: (cert, key)} and {"ca": path} and the servers' serials."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def write(name, data):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def authority(common_name):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - day).not_valid_after(now + 30 * day)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cert, key

    def leaf(label, issuer, issuer_key, sans, usage):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]))
                .issuer_name(issuer.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - day).not_valid_after(now + 30 * day)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(issuer_key, hashes.SHA256()))
        files[label] = (
            write(f"{label}.pem", cert.public_bytes(serialization.Encoding.PEM)),
            write(f"{label}.key", key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())))
        return cert.serial_number

    ca, ca_key = authority("sre-agent test CA")
    other_ca, other_key = authority("somebody else's CA")
    files = {"ca": write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))}
    server_usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    client_usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
    local = [x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
    serials = {name: leaf(name, ca, ca_key, local, server_usage) for name in ("server", "server2")}
    leaf("client", ca, ca_key, [x509.DNSName("prometheus.example")], client_usage)
    leaf("client_other_san", ca, ca_key, [x509.DNSName("intruder.example")], client_usage)
    leaf("stranger", other_ca, other_key, [x509.DNSName("prometheus.example")], client_usage)
    return files, serials


class WebConfigCase(unittest.TestCase):
    """An agent with a web config file in a temp dir, curl, and a PKI."""

    @classmethod
    def setUpClass(cls):
        cls.curl_binary = shutil.which("curl")
        cls.dir = tempfile.mkdtemp()
        cls.pki, cls.serials = make_pki(cls.dir)
        cls.web_config = os.path.join(cls.dir, "web.yml")
        cls.peers = Peers()
        cls.agents = []

    @classmethod
    def tearDownClass(cls):
        for agent in cls.agents:
            agent.stop()
        cls.peers.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        if self.curl_binary is None:
            require_tool(self, "curl")  # fails in CI, skips loudly elsewhere

    @classmethod
    def write_web_config(cls, text):
        with open(cls.web_config, "w") as f:
            f.write(text)

    @classmethod
    def start_agent(cls, web_config_text, *flags):
        cls.write_web_config(web_config_text)
        agent = Agent(AGENT_CONFIG, f"--web.config.file={cls.web_config}", *flags)
        cls.agents.append(agent)
        cls.port = int(agent.url.rsplit(":", 1)[1])
        return agent

    def curl(self, path, *args, scheme="https", method="GET"):
        """(exit code, HTTP status, headers text, body) of one curl request to the agent."""
        url = f"{scheme}://localhost:{self.port}" + path.format(tcp=self.peers.ports["ok"])
        result = subprocess.run(
            [self.curl_binary, "-sS", "--max-time", "10", "-X", method, "-D", "-",
             "-o", os.path.join(self.dir, "body"), "-w", "\n%{http_code}",
             "--cacert", self.pki["ca"], *args, url],
            capture_output=True, text=True)
        headers, _, code = result.stdout.rpartition("\n")
        body_file = os.path.join(self.dir, "body")
        body = ""
        if os.path.exists(body_file):  # not written when nothing came back
            with open(body_file, "rb") as f:
                body = f.read().decode(errors="replace")
            os.remove(body_file)
        return result.returncode, int(code or 0), headers, body

    def client_cert(self, name="client"):
        cert, key = self.pki[name]
        return ["--cert", cert, "--key", key]


class MutualTlsAndBasicAuthTest(WebConfigCase):
    """mTLS (RequireAndVerifyClientCert with client_allowed_sans), basic auth and headers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = cls.start_agent(f"""\
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_ca_file: ca.pem
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [prometheus.example]
http_server_config:
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: '{bcrypt(PASSWORD)}'
  grafana: '{bcrypt("another one")}'
""")

    def test_every_endpoint_with_certificate_and_password(self):
        for path in ENDPOINTS:
            code, status, headers, body = self.curl(path, *self.client_cert(), "-u",
                                                    f"prometheus:{PASSWORD}")
            self.assertEqual((code, status), (0, 200), f"{path}: {body}")
            self.assertIn("X-Frame-Options: deny", headers)
            self.assertIn("Strict-Transport-Security: max-age=31536000", headers)
        code, status, _, body = self.curl("/-/reload", *self.client_cert(), "-u",
                                          f"prometheus:{PASSWORD}", method="POST")
        self.assertEqual(status, 200, body)

    def test_every_endpoint_refuses_a_missing_or_wrong_password(self):
        for path in ENDPOINTS + ["/-/reload", "/no-such-page"]:
            for credentials in ([], ["-u", "prometheus:wrong"], ["-u", f"nobody:{PASSWORD}"],
                                ["-u", f"grafana:{PASSWORD}"]):
                method = "POST" if path == "/-/reload" else "GET"
                code, status, headers, body = self.curl(path, *self.client_cert(), *credentials,
                                                        method=method)
                if path == "/no-such-page":
                    self.assertEqual(status, 404)  # no route: nothing to protect or reveal
                    continue
                self.assertEqual(status, 401, f"{path} {credentials}: {body}")
                self.assertIn("WWW-Authenticate: Basic", headers)

    def test_reload_is_post_only_even_when_authenticated(self):
        _, status, headers, _ = self.curl("/-/reload", *self.client_cert(), "-u",
                                          f"prometheus:{PASSWORD}")
        self.assertEqual(status, 405)
        self.assertIn("Allow: POST", headers)

    def test_a_client_without_a_trusted_certificate_gets_no_answer(self):
        password = ["-u", f"prometheus:{PASSWORD}"]
        for name, args in (("no certificate", []),
                           ("certificate of an unknown CA", self.client_cert("stranger")),
                           ("SAN not allowed", self.client_cert("client_other_san"))):
            for path in ("/metrics", "/-/healthy", "/-/reload"):
                code, status, _, _ = self.curl(path, *args, *password, method="POST"
                                               if path == "/-/reload" else "GET")
                # The handshake fails (35, 55, 56) or the server closes it unanswered (52).
                self.assertIn(code, (35, 52, 55, 56), f"{name} {path}")
                self.assertEqual(status, 0, f"{name} {path}")

    def test_plain_http_to_the_tls_port_is_refused(self):
        code, status, _, _ = self.curl("/metrics", scheme="http")
        self.assertNotEqual(code, 0)
        self.assertEqual(status, 0)

    def test_the_refusals_are_logged_without_the_password(self):
        self.curl("/metrics", *self.client_cert("stranger"))
        wait_for(lambda: any("client certificate refused" in l for l in self.agent.lines),
                 what="the refusal in the log")
        self.assertFalse(any(PASSWORD in line for line in self.agent.lines))


class TlsVersionsAndCiphersTest(WebConfigCase):
    """TLS without client certificates: versions and the Go cipher names mapped to GnuTLS."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_agent("""\
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  min_version: TLS12
  max_version: TLS12
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [CurveP256]
""")

    def test_tls_only_no_client_certificate_needed(self):
        code, status, _, _ = self.curl("/metrics")
        self.assertEqual((code, status), (0, 200))

    def test_versions_outside_the_range_are_refused(self):
        code, status, _, _ = self.curl("/metrics", "--tlsv1.3")
        self.assertNotEqual(code, 0)
        self.assertEqual(status, 0)

    def test_only_the_listed_suites(self):
        listed = self.curl("/metrics", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(listed[:2], (0, 200))
        for unlisted in ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
                         "ECDHE-ECDSA-AES128-SHA"):
            code, status, _, _ = self.curl("/metrics", "--ciphers", unlisted)
            self.assertNotEqual(code, 0, unlisted)


class ReloadTest(WebConfigCase):
    """The web config is re-read on SIGHUP and POST /-/reload; scrapes go on meanwhile."""

    TLS = """\
tls_server_config:
  cert_file: {cert}
  key_file: {key}
basic_auth_users:
  prometheus: '{hash}'
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hash = bcrypt(PASSWORD)
        cls.agent = cls.start_agent(cls.tls_config("server"))

    @classmethod
    def tls_config(cls, name):
        cert, key = cls.pki[name]
        return cls.TLS.format(cert=cert, key=key, hash=cls.hash)

    def served_serial(self):
        context = ssl.create_default_context(cafile=self.pki["ca"])
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                from cryptography import x509
                return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number

    def reload(self):
        return self.curl("/-/reload", "-u", f"prometheus:{PASSWORD}", method="POST")

    def test_new_certificate_without_dropping_a_scrape(self):
        failures, scrapes = [], [0]
        stop = threading.Event()
        context = ssl.create_default_context(cafile=self.pki["ca"])
        auth = {"Authorization": "Basic " + __import__("base64").b64encode(
            f"prometheus:{PASSWORD}".encode()).decode()}

        def scrape_continuously():
            # One kept-alive connection, as Prometheus keeps one: it must outlive the reloads.
            connection = http.client.HTTPSConnection("localhost", self.port, context=context,
                                                     timeout=5)
            while not stop.is_set():
                try:
                    connection.request("GET", "/metrics", headers=auth)
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        failures.append(response.status)
                    scrapes[0] += 1
                    if response.getheader("Connection") == "close":
                        connection.close()  # the next request connects again
                except (OSError, http.client.HTTPException) as error:
                    failures.append(repr(error))
                    connection.close()
            connection.close()

        scraper = threading.Thread(target=scrape_continuously)
        scraper.start()
        try:
            for name in ("server2", "server", "server2"):
                before = scrapes[0]
                self.write_web_config(self.tls_config(name))
                self.assertEqual(self.reload()[1], 200)
                self.assertEqual(self.served_serial(), self.serials[name])
                wait_for(lambda: scrapes[0] > before + 5, what="scrapes after the reload")
            self.write_web_config(self.tls_config("server"))
            self.agent.process.send_signal(signal.SIGHUP)
            wait_for(lambda: self.served_serial() == self.serials["server"], what="SIGHUP reload")
        finally:
            stop.set()
            scraper.join()
        self.assertEqual(failures, [])
        self.assertGreater(scrapes[0], 20)

    def test_a_bad_web_config_is_refused_and_the_old_one_keeps_serving(self):
        self.write_web_config(self.tls_config("server") + "  stranger: short-hash\n")
        code, status, _, body = self.reload()
        self.assertEqual(status, 500)
        self.assertRegex(body, r"web\.yml:5:3: user \"stranger\": not a bcrypt hash")
        self.write_web_config("tls_server_config:\n  cert_file: missing.pem\n  key_file: x.key\n")
        _, status, _, body = self.reload()
        self.assertEqual(status, 500)
        self.assertIn("web.yml:2:14: cannot read secret file", body)
        # Still TLS, still the old password.
        self.assertEqual(self.curl("/metrics", "-u", f"prometheus:{PASSWORD}")[:2], (0, 200))
        self.assertEqual(self.curl("/metrics")[1], 401)
        self.write_web_config(self.tls_config("server"))
        self.assertEqual(self.reload()[1], 200)


class LimitsTest(WebConfigCase):
    """Size limits, the connection limit and a slowloris, on plain HTTP (the limits are the
    server's, whatever the web config says)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = cls.start_agent("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
                                    "--web.max-connections=600")

    def test_oversized_header_and_body(self):
        code, status, _, _ = self.curl("/metrics", "-H", "X-Filler: " + "a" * 64 * 1024,
                                       scheme="http")
        self.assertEqual(status, 431)
        code, status, _, _ = self.curl("/-/reload", "--data-binary", "a" * 100 * 1024,
                                       scheme="http", method="POST")
        self.assertEqual(status, 413)
        self.assertEqual(self.curl("/-/healthy", scheme="http")[1], 200)

    def test_a_slowloris_holding_500_connections_does_not_stop_a_scrape(self):
        held = []
        try:
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
                held.append(s)
            latencies = []
            for _ in range(20):
                start = time.monotonic()
                status, headers, _ = self.agent.get("/metrics")
                latencies.append(time.monotonic() - start)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
                for s in held[:50]:
                    s.sendall(b"X")  # a byte now and then keeps them from idling out
            latencies.sort()
            print(f"\nscrape under a 500-connection slowloris: median "
                  f"{latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
        finally:
            for s in held:
                s.close()

    def test_connections_past_the_limit_wait_for_a_free_slot(self):
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(600)]
        extra = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            extra.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            # At the limit the server accepts no more: the connection waits in the backlog.
            extra.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                extra.recv(100)
            # Freed slots go to the backlog in order (connections of the previous test may still
            # be closing), so all are let go; the waiting request is then answered.
            while held:
                held.pop().close()
            extra.settimeout(15)
            self.assertTrue(extra.recv(100).startswith(b"HTTP/1.1 200"))
        finally:
            extra.close()
            for s in held:
                s.close()

if __name__ == "__main__":
    unittest.main()
