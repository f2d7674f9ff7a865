#include "agent/net/tcp_dialer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>

#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::LoopbackServer;
namespace handlers = testing::handlers;

QueryStep Expect(const std::string& regex, std::string send = "") {
  return QueryStep{regex, std::make_shared<const re2::RE2>(regex), std::move(send)};
}
QueryStep Send(std::string send) { return QueryStep{"", nullptr, std::move(send)}; }

TlsOptions CaFile(std::string ca_file) {
  TlsOptions options;
  options.ca_file = std::move(ca_file);
  return options;
}
TlsOptions Insecure() {
  TlsOptions options;
  options.insecure_skip_verify = true;
  return options;
}
TlsOptions ClientCert(std::string cert_file, std::string key_file) {
  TlsOptions options;
  options.cert_file = std::move(cert_file);
  options.key_file = std::move(key_file);
  return options;
}

class TcpDialerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::IgnoreSigpipe(); }

  DialOptions Options(uint16_t port, Duration timeout = seconds(5)) {
    DialOptions options;
    options.address = *IpAddress::Parse("127.0.0.1");
    options.port = port;
    options.deadline = clock_.Now() + timeout;
    return options;
  }

  /// Dials and runs the loop until `done`.
  DialResult Dial(DialOptions options) {
    std::optional<DialResult> result;
    int calls = 0;
    auto dialer = TcpDialer::Start(loop_, std::move(options), [&](DialResult r) {
      ++calls;
      result = std::move(r);
    });
    EXPECT_FALSE(result) << "done ran from inside Start";
    EXPECT_TRUE(testing::RunUntil(loop_, [&] { return result.has_value(); }));
    dialer.reset();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(loop_.watch_count(), 0u);
    return result.value_or(DialResult{});
  }

  SystemClock clock_;
  EventLoop loop_{clock_};
};

TEST(ReasonFromErrnoTest, MapsTheCommonErrors) {
  EXPECT_EQ(ReasonFromErrno(ECONNREFUSED), Reason::kConnectionRefused);
  EXPECT_EQ(ReasonFromErrno(ECONNRESET), Reason::kConnectionReset);
  EXPECT_EQ(ReasonFromErrno(EPIPE), Reason::kConnectionReset);
  EXPECT_EQ(ReasonFromErrno(ETIMEDOUT), Reason::kTimeout);
  EXPECT_EQ(ReasonFromErrno(EACCES), Reason::kPermissionDenied);
  EXPECT_EQ(ReasonFromErrno(EPERM), Reason::kPermissionDenied);
  EXPECT_EQ(ReasonFromErrno(ENETUNREACH), Reason::kConnectionFailed);
  EXPECT_EQ(ReasonFromErrno(EHOSTUNREACH), Reason::kConnectionFailed);
}

TEST_F(TcpDialerTest, ConnectsWithoutSteps) {
  LoopbackServer server(handlers::Silent());
  const DialResult result = Dial(Options(server.port()));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_GT(result.connect_time, Duration(0));
  EXPECT_GE(result.total, result.connect_time);
  EXPECT_EQ(result.tls_time, Duration(0));
  EXPECT_FALSE(result.earliest_cert_expiry);
}

TEST_F(TcpDialerTest, RefusedPort) {
  const DialResult result = Dial(Options(testing::RefusedPort()));
  EXPECT_EQ(result.reason, Reason::kConnectionRefused);
  EXPECT_EQ(result.message, "connect: Connection refused");
}

TEST_F(TcpDialerTest, RefusedPortOverIpv6) {
  DialOptions options = Options(testing::RefusedPort());
  options.address = *IpAddress::Parse("::1");
  const DialResult result = Dial(std::move(options));
  // ::1 exists wherever IPv6 is enabled; without it the kernel says EADDRNOTAVAIL/EAFNOSUPPORT.
  EXPECT_TRUE(result.reason == Reason::kConnectionRefused ||
              result.reason == Reason::kConnectionFailed)
      << result.message;
}

TEST_F(TcpDialerTest, ConnectThatHangsTimesOutAtTheDeadline) {
  testing::HangingListener listener;
  const TimePoint start = clock_.Now();
  const DialResult result = Dial(Options(listener.port(), milliseconds(300)));
  EXPECT_EQ(result.reason, Reason::kTimeout);
  EXPECT_EQ(result.message, "connect: timed out");
  EXPECT_GE(clock_.Now() - start, milliseconds(300));
  EXPECT_GE(result.total, milliseconds(300));
  EXPECT_LT(result.total, seconds(3));
}

TEST_F(TcpDialerTest, DeadlineInThePast) {
  LoopbackServer server(handlers::Silent());
  const DialResult result = Dial(Options(server.port(), -seconds(1)));
  EXPECT_EQ(result.reason, Reason::kTimeout);
}

TEST_F(TcpDialerTest, GarbageThenCloseIsABodyMismatch) {
  LoopbackServer server(handlers::SendAndClose("HTTP/1.1 400 Bad Request\r\nwhat?\r\n"));
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ", "QUIT")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kBodyMismatch);
  EXPECT_TRUE(result.failed_due_to_regex);
  EXPECT_NE(result.message.find("/^220 /"), std::string::npos) << result.message;
}

TEST_F(TcpDialerTest, SilentPeerTimesOutNamingTheExpectedLine) {
  LoopbackServer server(handlers::Silent());
  DialOptions options = Options(server.port(), milliseconds(300));
  options.steps = {Expect("^220 ")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kTimeout);
  EXPECT_EQ(result.message, "waiting for line matching /^220 /: timed out");
  EXPECT_FALSE(result.failed_due_to_regex);
}

TEST_F(TcpDialerTest, ResetIsConnectionReset) {
  LoopbackServer server(handlers::Reset());
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kConnectionReset) << result.message;
}

TEST_F(TcpDialerTest, ResetAfterOurSendIsConnectionReset) {
  LoopbackServer server(handlers::ResetAfterLine());
  DialOptions options = Options(server.port());
  options.steps = {Send("HELLO"), Expect("^OK")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kConnectionReset) << result.message;
  EXPECT_EQ(server.recorded(), std::vector<std::string>{"HELLO"});
}

TEST_F(TcpDialerTest, ExpectThenSendConversation) {
  LoopbackServer server(handlers::Converse("220 mail.test ESMTP\r\n", "221 bye\r\n"));
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ", "QUIT"), Expect("^221 ")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_FALSE(result.failed_due_to_regex);
  // The server answered 221 only after reading our line.
  EXPECT_EQ(server.recorded(), std::vector<std::string>{"QUIT"});
}

TEST_F(TcpDialerTest, ExpectSkipsLinesAndMatchesAFinalLineWithoutNewline) {
  LoopbackServer server(handlers::SendAndClose("+banner\r\nnoise\nready"));
  DialOptions options = Options(server.port());
  options.steps = {Expect("^noise$"), Expect("^ready$")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
}

TEST_F(TcpDialerTest, LargeSendIsWrittenCompletely) {
  LoopbackServer server(handlers::Converse("", "ok\n"));
  DialOptions options = Options(server.port());
  const std::string big(1 << 20, 'x');  // more than a socket buffer: partial writes, EAGAIN
  options.steps = {Send(big), Expect("^ok$")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  ASSERT_EQ(server.recorded().size(), 1u);
  EXPECT_EQ(server.recorded()[0].size(), big.size());
}

TEST_F(TcpDialerTest, OverlongLineIsAProtocolError) {
  LoopbackServer server(handlers::SendAndClose(std::string(5000, 'a') + "\n"));
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kProtocolError);
  EXPECT_FALSE(result.failed_due_to_regex);
}

TEST_F(TcpDialerTest, OverlongLineWithoutNewlineIsAProtocolError) {
  LoopbackServer server(handlers::Converse(std::string(10000, 'a'), ""));  // and stays open
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ")};
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kProtocolError);
}

TEST_F(TcpDialerTest, DestroyingBeforeDoneCancelsEverything) {
  testing::HangingListener listener;
  bool called = false;
  auto dialer = TcpDialer::Start(loop_, Options(listener.port(), milliseconds(100)),
                                 [&](DialResult) { called = true; });
  loop_.RunOnce(milliseconds(10));
  EXPECT_EQ(loop_.watch_count(), 1u);
  dialer.reset();
  EXPECT_EQ(loop_.watch_count(), 0u);
  EXPECT_EQ(loop_.timer_count(), 0u);
  bool later = false;
  loop_.AddTimerAfter(milliseconds(300), [&] { later = true; });  // past the deadline
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return later; }));
  EXPECT_FALSE(called);
}

TEST_F(TcpDialerTest, DestroyingFromInsideDone) {
  LoopbackServer server(handlers::Converse("220 hi\r\n", ""));
  std::unique_ptr<TcpDialer> dialer;
  std::optional<DialResult> result;
  DialOptions options = Options(server.port());
  options.steps = {Expect("^220 ", "QUIT")};
  dialer = TcpDialer::Start(loop_, std::move(options), [&](DialResult r) {
    result = std::move(r);
    dialer.reset();  // the dialer deletes itself from inside its own callback
  });
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->reason, Reason::kNone) << result->message;
  EXPECT_EQ(dialer, nullptr);
  EXPECT_EQ(loop_.watch_count(), 0u);
  EXPECT_EQ(loop_.timer_count(), 0u);
}

TEST_F(TcpDialerTest, RefusalIsReportedFromTheLoopAndDestroyBeforeItIsSafe) {
  bool called = false;
  auto dialer =
      TcpDialer::Start(loop_, Options(testing::RefusedPort()), [&](DialResult) { called = true; });
  dialer.reset();  // loopback refusals are known inside connect(): nothing may fire later
  loop_.RunOnce(milliseconds(10));
  EXPECT_FALSE(called);
  EXPECT_EQ(loop_.timer_count(), 0u);
}

TEST_F(TcpDialerTest, ThousandHangingDialsDoNotDelayAHealthyOne) {
  testing::HangingListener hanging;
  LoopbackServer healthy(handlers::Converse("220 ready\r\n", ""));
  std::vector<std::unique_ptr<TcpDialer>> stuck;
  int stuck_done = 0;
  for (int i = 0; i < 1000; ++i) {
    stuck.push_back(TcpDialer::Start(loop_, Options(hanging.port(), seconds(60)),
                                     [&](DialResult) { ++stuck_done; }));
  }
  std::optional<DialResult> result;
  DialOptions options = Options(healthy.port(), seconds(60));
  options.steps = {Expect("^220 ", "QUIT")};
  auto dialer = TcpDialer::Start(loop_, std::move(options), [&](DialResult r) { result = r; });
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return result.has_value(); }));
  EXPECT_EQ(result->reason, Reason::kNone) << result->message;
  EXPECT_EQ(stuck_done, 0);  // every hanging dial is still pending
  EXPECT_EQ(loop_.watch_count(), 1000u);
  stuck.clear();
  EXPECT_EQ(loop_.watch_count(), 0u);
}

// ---- TLS ----

testing::LeafOptions SelfSigned(std::vector<std::string> dns_names) {
  testing::LeafOptions options;
  options.dns_names = std::move(dns_names);
  options.ip_addresses.clear();
  options.self_signed = true;
  return options;
}

class TlsDialerTest : public TcpDialerTest {
 protected:
  std::shared_ptr<TlsClientContext> Context(TlsOptions options) {
    auto context = TlsClientContext::Create(options);
    EXPECT_TRUE(context.ok()) << context.status().message();
    return context.ok() ? *context : nullptr;
  }
  DialResult DialTls(uint16_t port, TlsOptions tls, std::vector<QueryStep> steps = {},
                     std::string host = "localhost") {
    DialOptions options = Options(port);
    options.tls = Context(std::move(tls));
    options.tls_host = std::move(host);
    options.steps = std::move(steps);
    return Dial(std::move(options));
  }

  testing::TestPki pki_;
};

TEST_F(TlsDialerTest, TrustedCertificate) {
  const testing::CertFiles leaf = pki_.Issue("good");
  testing::TlsServer server(leaf.cert, leaf.key, "hello over tls\n");
  const DialResult result =
      DialTls(server.port(), CaFile(pki_.ca_file()), {Expect("^hello over tls$")});
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_EQ(result.tls_version, "TLS 1.3");
  EXPECT_GT(result.tls_time, Duration(0));
  EXPECT_GE(result.total, result.connect_time + result.tls_time);
  ASSERT_TRUE(result.earliest_cert_expiry);
  EXPECT_NEAR(*result.earliest_cert_expiry, leaf.not_after, 5);  // the leaf expires before the CA
}

TEST_F(TlsDialerTest, IpAddressIsVerifiedAgainstIpSubjectAltNames) {
  const testing::CertFiles leaf = pki_.Issue("good");
  testing::TlsServer server(leaf.cert, leaf.key);
  EXPECT_EQ(DialTls(server.port(), CaFile(pki_.ca_file()), {}, "127.0.0.1").reason, Reason::kNone);
  EXPECT_EQ(DialTls(server.port(), CaFile(pki_.ca_file()), {}, "127.0.0.2").reason,
            Reason::kTlsHostnameMismatch);
}

TEST_F(TlsDialerTest, UnknownIssuerIsUntrustedButTheExpiryIsKnown) {
  const testing::CertFiles leaf = pki_.Issue("good");
  testing::TlsServer server(leaf.cert, leaf.key);
  const DialResult result =
      DialTls(server.port(), TlsOptions{});  // the system store lacks the test CA
  EXPECT_EQ(result.reason, Reason::kTlsUntrusted) << result.message;
  EXPECT_FALSE(result.tls_version.empty());
  ASSERT_TRUE(result.earliest_cert_expiry);
  EXPECT_NEAR(*result.earliest_cert_expiry, leaf.not_after, 5);
}

TEST_F(TlsDialerTest, SelfSignedIsUntrusted) {
  const testing::CertFiles leaf = pki_.Issue("self", SelfSigned({"localhost"}));
  testing::TlsServer server(leaf.cert, leaf.key);
  const DialResult result = DialTls(server.port(), CaFile(pki_.ca_file()));
  EXPECT_EQ(result.reason, Reason::kTlsUntrusted) << result.message;
  EXPECT_NE(result.message.find("self-signed"), std::string::npos) << result.message;
}

TEST_F(TlsDialerTest, ExpiredCertificate) {
  testing::LeafOptions expired;
  expired.not_before = -std::chrono::hours(48);
  expired.not_after = -std::chrono::hours(24);
  const testing::CertFiles leaf = pki_.Issue("expired", expired);
  testing::TlsServer server(leaf.cert, leaf.key);
  const DialResult result = DialTls(server.port(), CaFile(pki_.ca_file()));
  EXPECT_EQ(result.reason, Reason::kTlsExpired) << result.message;
  ASSERT_TRUE(result.earliest_cert_expiry);
  EXPECT_LT(*result.earliest_cert_expiry, clock_.WallSeconds());
  EXPECT_NEAR(*result.earliest_cert_expiry, leaf.not_after, 5);
}

TEST_F(TlsDialerTest, HostnameMismatch) {
  const testing::CertFiles leaf = pki_.Issue("good");
  testing::TlsServer server(leaf.cert, leaf.key);
  const DialResult result = DialTls(server.port(), [&] {
    TlsOptions options = CaFile(pki_.ca_file());
    options.server_name = "wrong.example";
    return options;
  }());
  EXPECT_EQ(result.reason, Reason::kTlsHostnameMismatch) << result.message;
}

TEST_F(TlsDialerTest, InsecureSkipVerifyAcceptsAnything) {
  const testing::CertFiles leaf = pki_.Issue("bad", SelfSigned({"elsewhere.example"}));
  testing::TlsServer server(leaf.cert, leaf.key);
  const DialResult result = DialTls(server.port(), Insecure(), {Expect("^hello$")});
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_TRUE(result.earliest_cert_expiry);
}

TEST_F(TlsDialerTest, PlainTextPeerIsAHandshakeError) {
  LoopbackServer server(handlers::SendAndClose("220 this is not TLS\r\n"));
  const DialResult result = DialTls(server.port(), CaFile(pki_.ca_file()));
  EXPECT_EQ(result.reason, Reason::kTlsHandshakeError) << result.message;
  EXPECT_TRUE(result.tls_version.empty());
}

TEST_F(TlsDialerTest, ResetDuringTheHandshakeStaysAReset) {
  LoopbackServer server(handlers::Reset());
  const DialResult result = DialTls(server.port(), CaFile(pki_.ca_file()));
  EXPECT_EQ(result.reason, Reason::kConnectionReset) << result.message;
}

TEST_F(TlsDialerTest, SilentPeerTimesOutInTheHandshake) {
  LoopbackServer server(handlers::Silent());
  DialOptions options = Options(server.port(), milliseconds(300));
  options.tls = Context(CaFile(pki_.ca_file()));
  options.tls_host = "localhost";
  const DialResult result = Dial(std::move(options));
  EXPECT_EQ(result.reason, Reason::kTimeout);
  EXPECT_EQ(result.message, "tls handshake: timed out");
}

TEST(TlsClientContextTest, ErrorsNameTheFile) {
  auto missing = TlsClientContext::Create(CaFile("/nonexistent/ca.pem"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/ca.pem"), std::string::npos);

  auto half = TlsClientContext::Create(ClientCert("/tmp/client.pem", ""));
  EXPECT_FALSE(half.ok());

  auto bad_cert = TlsClientContext::Create(ClientCert("/nonexistent/c.pem", "/nonexistent/k"));
  ASSERT_FALSE(bad_cert.ok());
  EXPECT_NE(bad_cert.status().message().find("/nonexistent/c.pem"), std::string::npos);

  EXPECT_TRUE(TlsClientContext::Create(TlsOptions{}).ok());  // the system store
}

TEST(TlsClientContextTest, ClientCertificateAndKeyMustMatch) {
  testing::TestPki pki;
  const testing::CertFiles a = pki.Issue("a");
  const testing::CertFiles b = pki.Issue("b");
  EXPECT_TRUE(TlsClientContext::Create(ClientCert(a.cert, a.key)).ok());
  auto mismatch = TlsClientContext::Create(ClientCert(a.cert, b.key));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find(b.key), std::string::npos);
}

}  // namespace
}  // namespace sre::net
