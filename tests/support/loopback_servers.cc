#include "tests/support/loopback_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sre::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "test support: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

sockaddr_in LoopbackAddress(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

uint16_t LocalPort(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) Die("getsockname");
  return ntohs(address.sin_port);
}

// Waits for `events` on `fd`, or for `stop_fd` to become readable; false when stopping.
bool WaitFor(int fd, short events, int stop_fd) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    const int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

void IgnoreSigpipe() { std::signal(SIGPIPE, SIG_IGN); }

UniqueFd ListenLoopback(int backlog, uint16_t* port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Die("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in address = LoopbackAddress(0);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    Die("bind");
  }
  if (listen(fd.get(), backlog) != 0) Die("listen");
  *port = LocalPort(fd.get());
  return fd;
}

UniqueFd ListenOn(const std::string& ip, uint16_t port, int backlog, uint16_t* bound_port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Die("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = LoopbackAddress(port);
  if (inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) Die("inet_pton");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    Die("bind");
  }
  if (listen(fd.get(), backlog) != 0) Die("listen");
  *bound_port = LocalPort(fd.get());
  return fd;
}

uint16_t RefusedPort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Die("socket");
  const sockaddr_in address = LoopbackAddress(0);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    Die("bind");
  }
  return LocalPort(fd.get());  // closed on return: nothing listens there
}

bool RunUntil(net::EventLoop& loop, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    loop.RunOnce(std::chrono::milliseconds(20));
  }
  return done();
}

HangingListener::HangingListener() {
  listener_ = ListenLoopback(0, &port_);
  // Backlog 0 leaves room for one established connection (Linux allows backlog + 1); once the
  // queue is full the kernel drops SYNs. Connect until one does not complete: that one hangs,
  // like every later connect. Each attempt waits at most 200 ms, and only the last one waits.
  for (int i = 0; i < 16; ++i) {
    UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!client) Die("socket");
    const sockaddr_in address = LoopbackAddress(port_);
    if (connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      Die("connect (filling the accept queue)");
    }
    pollfd pfd{client.get(), POLLOUT, 0};
    const int ready = poll(&pfd, 1, 200);
    fillers_.push_back(std::move(client));
    if (ready == 0) return;  // SYN dropped: the queue is full
  }
  std::fprintf(stderr, "test support: could not fill the accept queue of port %u\n", port_);
  std::abort();
}

LoopbackServer::LoopbackServer(Handler handler)
    : LoopbackServer(std::move(handler), "127.0.0.1", 0) {}

LoopbackServer::LoopbackServer(Handler handler, const std::string& ip, uint16_t port)
    : handler_(std::move(handler)) {
  IgnoreSigpipe();
  listener_ = ListenOn(ip, port, 64, &port_);
  stop_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_) Die("eventfd");
  thread_ = std::thread([this] { Serve(); });
}

std::unique_ptr<LoopbackServer> LoopbackServer::OnUnixSocket(Handler handler,
                                                             const std::string& path) {
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (!listener || path.size() >= sizeof address.sun_path) Die("unix socket");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener.get(), 64) != 0) {
    Die("bind/listen on a unix socket");
  }
  return std::unique_ptr<LoopbackServer>(
      new LoopbackServer(std::move(handler), std::move(listener)));
}

LoopbackServer::LoopbackServer(Handler handler, UniqueFd listener)
    : handler_(std::move(handler)), listener_(std::move(listener)) {
  IgnoreSigpipe();
  stop_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_) Die("eventfd");
  thread_ = std::thread([this] { Serve(); });
}

LoopbackServer::~LoopbackServer() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(stop_fd_.get(), &one, sizeof one);
  thread_.join();
}

void LoopbackServer::Serve() {
  while (WaitFor(listener_.get(), POLLIN, stop_fd_.get())) {
    UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    ++accepted_;
    pending_.clear();
    handler_(client.get(), *this);
  }
}

bool LoopbackServer::WaitReadable(int fd) const { return WaitFor(fd, POLLIN, stop_fd_.get()); }

bool LoopbackServer::WaitReadableFor(int fd, std::chrono::milliseconds timeout) const {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  return poll(fds, 2, static_cast<int>(timeout.count())) != 0;
}

bool LoopbackServer::ReadLine(int fd, std::string* line) {
  for (;;) {
    const size_t newline = pending_.find('\n');
    if (newline != std::string::npos) {
      *line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
    if (!WaitReadable(fd)) return false;
    char buffer[1024];
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(n));
  }
}

bool LoopbackServer::WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void LoopbackServer::Record(std::string line) {
  std::lock_guard lock(mutex_);
  recorded_.push_back(std::move(line));
}

std::vector<std::string> LoopbackServer::recorded() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

namespace handlers {

namespace {
// Reads and discards until the client closes or the server stops.
void DrainUntilClosed(int fd, LoopbackServer& server) {
  char buffer[1024];
  while (server.WaitReadable(fd)) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return;
  }
}

void ResetConnection(int fd) {
  const linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  // The caller's UniqueFd closes it: with a zero linger that sends RST.
}
}  // namespace

LoopbackServer::Handler SendAndClose(std::string bytes) {
  return [bytes = std::move(bytes)](int fd, LoopbackServer&) {
    LoopbackServer::WriteAll(fd, bytes);
    shutdown(fd, SHUT_WR);
  };
}

LoopbackServer::Handler Silent() {
  return [](int fd, LoopbackServer& server) { DrainUntilClosed(fd, server); };
}

LoopbackServer::Handler Reset() {
  return [](int fd, LoopbackServer&) { ResetConnection(fd); };
}

LoopbackServer::Handler ResetAfterLine() {
  return [](int fd, LoopbackServer& server) {
    std::string line;
    if (server.ReadLine(fd, &line)) server.Record(line);
    ResetConnection(fd);
  };
}

LoopbackServer::Handler Converse(std::string greeting, std::string reply) {
  return
      [greeting = std::move(greeting), reply = std::move(reply)](int fd, LoopbackServer& server) {
        if (!LoopbackServer::WriteAll(fd, greeting)) return;
        std::string line;
        while (server.ReadLine(fd, &line)) {
          server.Record(line);
          if (!reply.empty() && !LoopbackServer::WriteAll(fd, reply)) return;
        }
      };
}

namespace {
// Reads request lines up to the blank line that ends the head; records the first.
bool ReadRequestHead(int fd, LoopbackServer& server) {
  std::string line;
  bool first = true;
  while (server.ReadLine(fd, &line)) {
    if (first) server.Record(line);
    first = false;
    if (line.empty()) return true;
  }
  return false;
}
}  // namespace

LoopbackServer::Handler HttpReply(std::string response) {
  return [response = std::move(response)](int fd, LoopbackServer& server) {
    if (!ReadRequestHead(fd, server)) return;
    LoopbackServer::WriteAll(fd, response);
    shutdown(fd, SHUT_WR);
    DrainUntilClosed(fd, server);
  };
}

LoopbackServer::Handler HttpTrickle(std::string response, std::chrono::milliseconds interval) {
  return [response = std::move(response), interval](int fd, LoopbackServer& server) {
    if (!ReadRequestHead(fd, server)) return;
    for (char c : response) {
      if (!LoopbackServer::WriteAll(fd, std::string_view(&c, 1))) return;
      // The trickle is the server's behaviour under test, not a synchronisation.
      if (server.WaitReadableFor(fd, interval)) return;  // the client gave up
    }
  };
}

}  // namespace handlers

TlsServer::TlsServer(const std::string& cert_chain_file, const std::string& key_file,
                     std::string greeting)
    : greeting_(std::move(greeting)) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, cert_chain_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    std::fprintf(stderr, "test support: TLS server set-up failed (%s)\n", cert_chain_file.c_str());
    std::abort();
  }
  server_ = std::make_unique<LoopbackServer>([this](int fd, LoopbackServer& server) {
    // Non-blocking under the hood, waiting through the server so that stopping never hangs on
    // a client that went quiet mid-handshake.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    bool ok = false;
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_accept(ssl);
      if (rc == 1) {
        ok = true;
        break;
      }
      const int error = SSL_get_error(ssl, rc);
      if (error == SSL_ERROR_WANT_READ && server.WaitReadable(fd)) continue;
      if (error == SSL_ERROR_WANT_WRITE) {
        pollfd pfd{fd, POLLOUT, 0};
        poll(&pfd, 1, 1000);
        continue;
      }
      break;  // the client gave up (verification failures close right after the handshake)
    }
    ERR_clear_error();
    if (ok) {
      ++handshakes_;
      SSL_write(ssl, greeting_.data(), static_cast<int>(greeting_.size()));
      char buffer[1024];
      for (;;) {
        ERR_clear_error();
        const int n = SSL_read(ssl, buffer, sizeof buffer);
        if (n > 0) continue;
        if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ && server.WaitReadable(fd)) continue;
        break;
      }
    }
    ERR_clear_error();
    SSL_free(ssl);
  });
}

TlsServer::~TlsServer() {
  server_.reset();  // joins the thread before the context goes
  SSL_CTX_free(ctx_);
}

}  // namespace sre::testing
