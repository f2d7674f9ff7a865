#include "exporters/postfix/showq_client.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/base/callback.h"
#include "agent/net/tcp_dialer.h"
#include "agent/net/unix_socket.h"

namespace sre::exporters::postfix {
namespace {

// In words an operator can act on.
std::string DescribeConnectError(int error, const std::string& path) {
  switch (error) {
    case ENOENT:
      return fmt::format("{} does not exist: is postfix installed, and showq_path right?", path);
    case EACCES:
      return fmt::format(
          "{}: permission denied: run the agent in the postdrop group (public/ is "
          "postfix:postdrop 0710)",
          path);
    case ECONNREFUSED:
      return fmt::format("{}: connection refused: is postfix running?", path);
    case EAGAIN:
      return fmt::format("{}: showq's backlog is full: too many readers at once?", path);
    default:
      return fmt::format("{}: connect: {}", path, std::strerror(error));
  }
}

}  // namespace

std::unique_ptr<ShowqClient> ShowqClient::Start(net::EventLoop& loop, const std::string& path,
                                                TimePoint deadline, uint64_t max_bytes, Done done) {
  std::unique_ptr<ShowqClient> client(new ShowqClient(loop, max_bytes, std::move(done)));
  client->Connect(path, deadline);
  return client;
}

ShowqClient::ShowqClient(net::EventLoop& loop, uint64_t max_bytes, Done done)
    : loop_(loop),
      max_bytes_(max_bytes),
      done_(std::move(done)),
      started_(loop.clock().Now()),
      parser_(std::make_unique<ShowqParser>(loop.clock().WallSeconds())) {}

ShowqClient::~ShowqClient() {
  loop_.CancelTimer(deadline_timer_);
  Close();
}

void ShowqClient::Connect(const std::string& path, TimePoint deadline) {
  deadline_timer_ = loop_.AddTimer(deadline, [this] {
    deadline_timer_ = 0;
    Fail(Reason::kTimeout,
         fmt::format("timed out after {} bytes ({} messages)", bytes_, parser_->messages()));
  });
  const net::UnixConnect connected = net::ConnectUnix(path);
  if (connected.error != 0) {
    FailLater(net::ReasonFromUnixConnect(connected.error),
              DescribeConnectError(connected.error, path));
    return;
  }
  fd_ = connected.fd;
  // showq starts listing on connect: everything else arrives as input.
  const Status watched =
      loop_.Watch(fd_, EPOLLIN | EPOLLRDHUP, [this](uint32_t events) { OnEvents(events); });
  if (!watched.ok()) FailLater(Reason::kConnectionFailed, watched.message());
}

void ShowqClient::FailLater(Reason reason, std::string message) {
  // From the loop, never from inside Start: the caller is not ready for `done` yet.
  loop_.Post([this, alive = std::weak_ptr<int>(alive_), reason, message = std::move(message)] {
    if (alive.lock()) Fail(reason, message);
  });
}

void ShowqClient::OnEvents(uint32_t /*events*/) { Read(); }

void ShowqClient::Read() {
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      const int error = errno;
      Fail(error == ECONNRESET ? Reason::kConnectionReset : Reason::kReadError,
           fmt::format("recv after {} bytes: {}", bytes_, std::strerror(error)));
      return;
    }
    bytes_ += static_cast<uint64_t>(n);
    if (bytes_ > max_bytes_) {
      Fail(Reason::kBodyTooLarge, fmt::format("the listing is longer than {} bytes", max_bytes_));
      return;
    }
    const ShowqParser::State state =
        n == 0 ? parser_->FeedEof() : parser_->Feed(std::string_view(buffer, n));
    if (state == ShowqParser::State::kError) {
      Fail(parser_->reason(), parser_->error());
      return;
    }
    if (state == ShowqParser::State::kComplete) {
      Finish(Reason::kNone, fmt::format("{} messages", parser_->messages()));
      return;
    }
  }
}

void ShowqClient::Fail(Reason reason, std::string message) { Finish(reason, std::move(message)); }

void ShowqClient::Finish(Reason reason, std::string message) {
  loop_.CancelTimer(deadline_timer_);
  deadline_timer_ = 0;
  Close();
  ShowqResult result;
  result.reason = reason;
  result.message = std::move(message);
  result.parser = std::move(parser_);
  result.bytes = bytes_;
  result.elapsed = loop_.clock().Now() - started_;
  CallOnce(done_, std::move(result));
}

void ShowqClient::Close() {
  if (fd_ < 0) return;
  loop_.UnwatchAndClose(fd_);
  fd_ = -1;
}

}  // namespace sre::exporters::postfix
