#include "exporters/php_fpm/fastcgi_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/base/callback.h"
#include "agent/net/tcp_dialer.h"
#include "agent/net/unix_socket.h"

namespace sre::exporters::php_fpm {
namespace {

// The request id of every request: php-fpm answers one request per connection.
constexpr uint16_t kRequestId = 1;

}  // namespace

std::string FastCgiEndpoint::ToString() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  if (address.family() == net::IpFamily::kIp6)
    return fmt::format("[{}]:{}", address.ToString(), port);
  return fmt::format("{}:{}", address.ToString(), port);
}

FastCgiClient::FastCgiClient(net::EventLoop& loop, std::string request, ResponseLimits limits,
                             Done done)
    : loop_(loop),
      request_(std::move(request)),
      decoder_(kRequestId, limits),
      done_(std::move(done)),
      started_(loop.clock().Now()) {}

std::unique_ptr<FastCgiClient> FastCgiClient::Start(net::EventLoop& loop,
                                                    const FastCgiEndpoint& endpoint,
                                                    const Params& params, TimePoint deadline,
                                                    ResponseLimits limits, Done done) {
  std::unique_ptr<FastCgiClient> client(
      new FastCgiClient(loop, EncodeRequest(kRequestId, params), limits, std::move(done)));
  client->Connect(endpoint, deadline);
  return client;
}

FastCgiClient::~FastCgiClient() {
  loop_.CancelTimer(deadline_timer_);
  Close();
}

void FastCgiClient::Connect(const FastCgiEndpoint& endpoint, TimePoint deadline) {
  where_ = endpoint.ToString();
  deadline_timer_ = loop_.AddTimer(deadline, [this] {
    deadline_timer_ = 0;
    Fail(Reason::kTimeout, written_ < request_.size()
                               ? "timed out connecting or sending the request"
                               : fmt::format("timed out waiting for the answer ({} bytes read)",
                                             decoder_.bytes_fed()));
  });
  if (!endpoint.unix_path.empty()) {
    const net::UnixConnect connected = net::ConnectUnix(endpoint.unix_path);
    if (connected.error != 0) {
      FailLater(net::ReasonFromUnixConnect(connected.error),
                fmt::format("connect: {}", std::strerror(connected.error)));
      return;
    }
    fd_ = connected.fd;
  } else {
    sockaddr_storage storage{};
    const socklen_t length = endpoint.address.ToSockaddr(endpoint.port, &storage);
    fd_ = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || (connect(fd_, reinterpret_cast<const sockaddr*>(&storage), length) != 0 &&
                    errno != EINPROGRESS)) {
      const int error = errno;
      FailLater(net::ReasonFromErrno(error), fmt::format("connect: {}", std::strerror(error)));
      return;
    }
  }
  const Status watched = loop_.Watch(fd_, EPOLLOUT, [this](uint32_t events) { OnEvents(events); });
  if (!watched.ok()) FailLater(Reason::kConnectionFailed, watched.message());
}

void FastCgiClient::FailLater(Reason reason, std::string message) {
  // From the loop, never from inside Start: the caller is not ready for `done` yet.
  loop_.Post([this, alive = std::weak_ptr<int>(alive_), reason, message = std::move(message)] {
    if (alive.lock()) Fail(reason, message);
  });
}

void FastCgiClient::OnEvents(uint32_t events) {
  if (written_ < request_.size()) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int error = 0;
      socklen_t size = sizeof error;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error == 0) error = ECONNRESET;
      Fail(net::ReasonFromErrno(error), fmt::format("connect: {}", std::strerror(error)));
      return;
    }
    Write();
    return;
  }
  Read();
}

void FastCgiClient::Write() {
  while (written_ < request_.size()) {
    const ssize_t n =
        send(fd_, request_.data() + written_, request_.size() - written_, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;  // the socket tells us when it takes more
    if (n < 0) {
      const int error = errno;
      Fail(net::ReasonFromErrno(error), fmt::format("send: {}", std::strerror(error)));
      return;
    }
    written_ += static_cast<size_t>(n);
  }
  if (Status s = loop_.SetEvents(fd_, EPOLLIN); !s.ok())
    Fail(Reason::kConnectionFailed, s.message());
}

void FastCgiClient::Read() {
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      const int error = errno;
      Fail(error == ECONNRESET ? Reason::kConnectionReset : Reason::kReadError,
           fmt::format("recv: {}", std::strerror(error)));
      return;
    }
    const ResponseDecoder::State state =
        n == 0 ? decoder_.FeedEof() : decoder_.Feed(std::string_view(buffer, n));
    if (state == ResponseDecoder::State::kError) {
      Fail(decoder_.reason(), decoder_.error());
      return;
    }
    if (state == ResponseDecoder::State::kComplete) break;
    if (n == 0) return;  // FeedEof always settles the state; kept for clarity
  }
  FastCgiResult result;
  auto cgi = ParseCgiResponse(decoder_.stdout_bytes());
  if (!cgi.ok()) {
    Fail(Reason::kProtocolError, cgi.status().message());
    return;
  }
  result.status = cgi->status;
  result.body = std::string(cgi->body);
  result.stderr_text = decoder_.stderr_bytes();
  result.message = fmt::format("status {}", result.status);
  Finish(std::move(result));
}

void FastCgiClient::Fail(Reason reason, std::string message) {
  FastCgiResult result;
  result.reason = reason;
  result.message = fmt::format("{}: {}", where_, message);
  result.stderr_text = decoder_.stderr_bytes();
  Finish(std::move(result));
}

void FastCgiClient::Finish(FastCgiResult result) {
  loop_.CancelTimer(deadline_timer_);
  deadline_timer_ = 0;
  Close();
  result.elapsed = loop_.clock().Now() - started_;
  CallOnce(done_, std::move(result));
}

void FastCgiClient::Close() {
  if (fd_ < 0) return;
  loop_.UnwatchAndClose(fd_);
  fd_ = -1;
}

}  // namespace sre::exporters::php_fpm
