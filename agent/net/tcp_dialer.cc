#include "agent/net/tcp_dialer.h"

#include <fmt/format.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "agent/net/line_matcher.h"
#include "agent/net/tls_client.h"

namespace sre::net {
namespace {

constexpr size_t kReadChunk = 4096;

std::string ErrnoMessage(std::string_view what, int error) {
  return fmt::format("{}: {}", what, std::strerror(error));
}

/// One connection attempt; see TcpDialer. Every path ends in Finish(), which releases the
/// socket, the SSL and the timers before calling `done`, so `done` may destroy the dialer.
class TcpDialerImpl final : public TcpDialer {
 public:
  TcpDialerImpl(EventLoop& loop, DialOptions options, Done done)
      : loop_(loop), options_(std::move(options)), done_(std::move(done)) {}
  ~TcpDialerImpl() override { Release(); }

  void Begin();

 private:
  enum class Phase { kConnect, kHandshake, kSteps, kDone };
  enum class Io { kOk, kWouldBlock, kEof, kError };

  void OnEvents();
  void OnConnectReady();
  void StartHandshake();
  void ContinueHandshake();
  void OnHandshakeDone();
  void RunSteps();
  Io ReadMore();
  Io WriteMore();
  void SetIoError(Reason reason, std::string message);
  void WaitFor(uint32_t events);
  std::string PhaseName() const;
  void FailSoon(Reason reason, std::string message);
  void Fail(Reason reason, std::string message);
  void Finish();
  void Release();

  EventLoop& loop_;
  DialOptions options_;
  Done done_;
  DialResult result_;
  Phase phase_ = Phase::kConnect;
  TimePoint start_;
  TimePoint phase_start_;
  int fd_ = -1;
  bool watched_ = false;
  uint32_t events_ = 0;
  SSL* ssl_ = nullptr;
  EventLoop::TimerId deadline_timer_ = 0;
  EventLoop::TimerId soon_timer_ = 0;

  // Query steps.
  size_t step_ = 0;
  bool step_matched_ = false;  // the current step's expect is satisfied
  bool sending_ = false;       // out_ holds the current step's send
  LineMatcher lines_;
  std::string out_;
  size_t out_pos_ = 0;
  Reason io_reason_ = Reason::kNone;
  std::string io_message_;
};

void TcpDialerImpl::Begin() {
  start_ = loop_.clock().Now();
  phase_start_ = start_;
  deadline_timer_ = loop_.AddTimer(options_.deadline, [this] {
    deadline_timer_ = 0;
    Fail(Reason::kTimeout, PhaseName() + ": timed out");
  });
  if (options_.deadline <= start_) {
    // Late already: a fast loopback connect would otherwise still win the race with the timer.
    FailSoon(Reason::kTimeout, "connect: timed out");
    return;
  }

  sockaddr_storage address{};
  const socklen_t length = options_.address.ToSockaddr(options_.port, &address);
  fd_ = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    const int error = errno;
    FailSoon(ReasonFromErrno(error), ErrnoMessage("socket", error));
    return;
  }
  // Query steps and TLS are small request/response exchanges: do not let Nagle hold them back.
  // A bare connect check writes nothing, and skips the syscall.
  if (!options_.steps.empty() || options_.tls != nullptr) {
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0 &&
      errno != EINPROGRESS) {
    // Loopback refusals are reported at once; `done` still runs from the loop, not from Start.
    const int error = errno;
    FailSoon(ReasonFromErrno(error), ErrnoMessage("connect", error));
    return;
  }
  // Connected or in progress: EPOLLOUT reports both, SO_ERROR tells which.
  Status status = loop_.Watch(fd_, EPOLLOUT, [this](uint32_t) { OnEvents(); });
  if (!status.ok()) {
    FailSoon(Reason::kConnectionFailed, status.message());
    return;
  }
  watched_ = true;
  events_ = EPOLLOUT;
}

void TcpDialerImpl::OnEvents() {
  switch (phase_) {
    case Phase::kConnect:
      OnConnectReady();
      break;
    case Phase::kHandshake:
      ContinueHandshake();
      break;
    case Phase::kSteps:
      RunSteps();
      break;
    case Phase::kDone:
      break;
  }
}

void TcpDialerImpl::OnConnectReady() {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    Fail(ReasonFromErrno(error), ErrnoMessage("connect", error));
    return;
  }
  const TimePoint now = loop_.clock().Now();
  result_.connect_time = now - start_;
  phase_start_ = now;
  if (options_.tls) {
    StartHandshake();
  } else {
    phase_ = Phase::kSteps;
    RunSteps();
  }
}

void TcpDialerImpl::StartHandshake() {
  phase_ = Phase::kHandshake;
  ERR_clear_error();
  ssl_ = SSL_new(options_.tls->get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    Fail(Reason::kTlsHandshakeError, "tls handshake: " + OpenSslErrors());
    return;
  }
  const TlsOptions& tls = options_.tls->options();
  std::string name = !tls.server_name.empty() ? tls.server_name : options_.tls_host;
  if (name.empty()) name = options_.address.ToString();
  // SNI carries host names only (RFC 6066), never an IP literal.
  if (!IpAddress::Parse(name)) SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (!tls.insecure_skip_verify) {
    // Checked during the handshake's verification; SSL_set1_host treats an IP literal as an
    // IP SAN. The result is read after the handshake (SSL_VERIFY_NONE), see OnHandshakeDone.
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl_), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl_, name.c_str()) != 1) {
      Fail(Reason::kTlsHandshakeError, fmt::format("tls handshake: bad server name \"{}\"", name));
      return;
    }
  }
  // Always complete the handshake, so the chain (and its expiry) is known even when untrusted.
  SSL_set_verify(ssl_, SSL_VERIFY_NONE, nullptr);
  ContinueHandshake();
}

void TcpDialerImpl::ContinueHandshake() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_connect(ssl_);
  if (rc == 1) {
    OnHandshakeDone();
    return;
  }
  const int error = SSL_get_error(ssl_, rc);
  const int sys_error = errno;
  switch (error) {
    case SSL_ERROR_WANT_READ:
      WaitFor(EPOLLIN);
      return;
    case SSL_ERROR_WANT_WRITE:
      WaitFor(EPOLLOUT);
      return;
    default:
      break;
  }
  result_.earliest_cert_expiry = EarliestCertExpiry(ssl_);  // when the server got that far
  if (error == SSL_ERROR_SYSCALL && sys_error != 0) {
    ERR_clear_error();
    Reason reason = ReasonFromErrno(sys_error);
    // A reset (or a kernel timeout) keeps its own reason; anything else failed the handshake.
    if (reason != Reason::kConnectionReset && reason != Reason::kTimeout) {
      reason = Reason::kTlsHandshakeError;
    }
    Fail(reason, ErrnoMessage("tls handshake", sys_error));
    return;
  }
  if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    Fail(Reason::kTlsHandshakeError, "tls handshake: connection closed by the peer");
    return;
  }
  Fail(Reason::kTlsHandshakeError, "tls handshake: " + OpenSslErrors());
}

void TcpDialerImpl::OnHandshakeDone() {
  const TimePoint now = loop_.clock().Now();
  result_.tls_time = now - phase_start_;
  phase_start_ = now;
  result_.tls_version = TlsVersionName(SSL_version(ssl_));
  result_.earliest_cert_expiry = EarliestCertExpiry(ssl_);
  if (!options_.tls->options().insecure_skip_verify) {
    if (SSL_get0_peer_certificate(ssl_) == nullptr) {
      Fail(Reason::kTlsUntrusted, "tls: the server sent no certificate");
      return;
    }
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      Fail(VerifyReason(verify), fmt::format("tls: certificate verification failed: {}",
                                             X509_verify_cert_error_string(verify)));
      return;
    }
  }
  phase_ = Phase::kSteps;
  RunSteps();
}

void TcpDialerImpl::RunSteps() {
  while (step_ < options_.steps.size()) {
    const QueryStep& step = options_.steps[step_];
    if (step.expect && !step_matched_) {
      const LineMatcher::Verdict verdict = lines_.Next(*step.expect);
      if (verdict == LineMatcher::Verdict::kLineTooLong) {
        Fail(Reason::kProtocolError,
             fmt::format("a line is longer than {} bytes", LineMatcher::kMaxLineBytes));
        return;
      }
      if (verdict == LineMatcher::Verdict::kNoMatch) {
        result_.failed_due_to_regex = true;
        Fail(Reason::kBodyMismatch,
             fmt::format("no line matched /{}/ before the connection closed", step.expect_source));
        return;
      }
      if (verdict == LineMatcher::Verdict::kNeedMore) {
        switch (ReadMore()) {
          case Io::kWouldBlock:
            return;
          case Io::kError:
            Fail(io_reason_, io_message_);
            return;
          case Io::kOk:
          case Io::kEof:
            continue;  // look at the new lines (or the final partial one)
        }
      }
      step_matched_ = true;
    }
    if (!step.send.empty()) {
      if (!sending_) {
        out_ = step.send + "\n";
        out_pos_ = 0;
        sending_ = true;
      }
      switch (WriteMore()) {
        case Io::kWouldBlock:
          return;
        case Io::kError:
          Fail(io_reason_, io_message_);
          return;
        case Io::kOk:
        case Io::kEof:
          break;
      }
      sending_ = false;
    }
    ++step_;
    step_matched_ = false;
  }
  result_.reason = Reason::kNone;
  Finish();
}

TcpDialerImpl::Io TcpDialerImpl::ReadMore() {
  char buffer[kReadChunk];
  if (ssl_ != nullptr) {
    ERR_clear_error();
    errno = 0;
    const int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n > 0) {
      lines_.Append(std::string_view(buffer, static_cast<size_t>(n)));
      return Io::kOk;
    }
    const int error = SSL_get_error(ssl_, n);
    const int sys_error = errno;
    switch (error) {
      case SSL_ERROR_WANT_READ:
        WaitFor(EPOLLIN);
        return Io::kWouldBlock;
      case SSL_ERROR_WANT_WRITE:
        WaitFor(EPOLLOUT);
        return Io::kWouldBlock;
      case SSL_ERROR_ZERO_RETURN:
        lines_.SetEof();
        return Io::kEof;
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (sys_error == 0) {  // EOF without close_notify
          lines_.SetEof();
          return Io::kEof;
        }
        break;
      default:
        SetIoError(Reason::kReadError, "read: tls: " + OpenSslErrors());
        return Io::kError;
    }
    const Reason reason = ReasonFromErrno(sys_error);
    SetIoError(reason == Reason::kConnectionReset || reason == Reason::kTimeout
                   ? reason
                   : Reason::kReadError,
               ErrnoMessage("read", sys_error));
    return Io::kError;
  }
  for (;;) {
    const ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      lines_.Append(std::string_view(buffer, static_cast<size_t>(n)));
      return Io::kOk;
    }
    if (n == 0) {
      lines_.SetEof();
      return Io::kEof;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      WaitFor(EPOLLIN);
      return Io::kWouldBlock;
    }
    const Reason reason = ReasonFromErrno(error);
    SetIoError(reason == Reason::kConnectionReset || reason == Reason::kTimeout
                   ? reason
                   : Reason::kReadError,
               ErrnoMessage("read", error));
    return Io::kError;
  }
}

TcpDialerImpl::Io TcpDialerImpl::WriteMore() {
  while (out_pos_ < out_.size()) {
    const char* data = out_.data() + out_pos_;
    const size_t size = out_.size() - out_pos_;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      // SSL_MODE_ENABLE_PARTIAL_WRITE is set on the context; a retry passes the same bytes.
      const int n = SSL_write(ssl_, data, static_cast<int>(size));
      if (n > 0) {
        out_pos_ += static_cast<size_t>(n);
        continue;
      }
      const int error = SSL_get_error(ssl_, n);
      const int sys_error = errno;
      if (error == SSL_ERROR_WANT_WRITE) {
        WaitFor(EPOLLOUT);
        return Io::kWouldBlock;
      }
      if (error == SSL_ERROR_WANT_READ) {
        WaitFor(EPOLLIN);
        return Io::kWouldBlock;
      }
      if (error == SSL_ERROR_SYSCALL && sys_error != 0) {
        ERR_clear_error();
        SetIoError(ReasonFromErrno(sys_error), ErrnoMessage("write", sys_error));
      } else if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        SetIoError(Reason::kConnectionReset, "write: connection closed by the peer");
      } else {
        SetIoError(Reason::kConnectionFailed, "write: tls: " + OpenSslErrors());
      }
      return Io::kError;
    }
    // MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE.
    const ssize_t n = send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      WaitFor(EPOLLOUT);
      return Io::kWouldBlock;
    }
    SetIoError(ReasonFromErrno(error), ErrnoMessage("write", error));
    return Io::kError;
  }
  return Io::kOk;
}

void TcpDialerImpl::SetIoError(Reason reason, std::string message) {
  io_reason_ = reason;
  io_message_ = std::move(message);
}

void TcpDialerImpl::WaitFor(uint32_t events) {
  if (events == events_ || !watched_) return;
  if (Status status = loop_.SetEvents(fd_, events); !status.ok()) {
    Fail(Reason::kConnectionFailed, status.message());
    return;
  }
  events_ = events;
}

std::string TcpDialerImpl::PhaseName() const {
  switch (phase_) {
    case Phase::kConnect:
      return "connect";
    case Phase::kHandshake:
      return "tls handshake";
    case Phase::kSteps:
      if (step_ < options_.steps.size()) {
        const QueryStep& step = options_.steps[step_];
        if (step.expect && !step_matched_) {
          return fmt::format("waiting for line matching /{}/", step.expect_source);
        }
        return fmt::format("sending query step {}", step_ + 1);
      }
      return "query";
    case Phase::kDone:
      break;
  }
  return "dial";
}

void TcpDialerImpl::FailSoon(Reason reason, std::string message) {
  soon_timer_ = loop_.AddTimerAfter(Duration(0), [this, reason, message = std::move(message)] {
    soon_timer_ = 0;
    Fail(reason, message);
  });
}

void TcpDialerImpl::Fail(Reason reason, std::string message) {
  if (phase_ == Phase::kDone) return;
  result_.reason = reason;
  result_.message = std::move(message);
  Finish();
}

void TcpDialerImpl::Finish() {
  phase_ = Phase::kDone;
  result_.total = loop_.clock().Now() - start_;
  Release();
  Done done = std::move(done_);
  DialResult result = std::move(result_);
  if (done) done(std::move(result));  // last: may destroy `this`
}

void TcpDialerImpl::Release() {
  if (deadline_timer_ != 0) {
    loop_.CancelTimer(deadline_timer_);
    deadline_timer_ = 0;
  }
  if (soon_timer_ != 0) {
    loop_.CancelTimer(soon_timer_);
    soon_timer_ = 0;
  }
  if (ssl_ != nullptr) {
    // No SSL_shutdown: its close_notify write could hit a peer that already reset.
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    if (watched_) {
      loop_.UnwatchAndClose(fd_);
    } else {
      close(fd_);
    }
    watched_ = false;
    fd_ = -1;
  }
}

}  // namespace

Reason ReasonFromErrno(int error) {
  switch (error) {
    case ECONNREFUSED:
      return Reason::kConnectionRefused;
    case ECONNRESET:
    case EPIPE:
      return Reason::kConnectionReset;
    case ETIMEDOUT:
      return Reason::kTimeout;
    case EACCES:
    case EPERM:
      return Reason::kPermissionDenied;
    default:
      return Reason::kConnectionFailed;
  }
}

std::unique_ptr<TcpDialer> TcpDialer::Start(EventLoop& loop, DialOptions options, Done done) {
  auto dialer = std::make_unique<TcpDialerImpl>(loop, std::move(options), std::move(done));
  dialer->Begin();
  return dialer;
}

}  // namespace sre::net
