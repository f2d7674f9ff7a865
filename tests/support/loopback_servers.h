#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/net/event_loop.h"

/// Hermetic loopback peers for network tests: every socket is on 127.0.0.1 with a port chosen by
/// the kernel, every thread is joined and every descriptor closed by the destructors.
namespace sre::testing {

/// Owns a file descriptor. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release();
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Ignores SIGPIPE for the process. Test servers write to clients that may have gone, and
/// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE (the agent's mains ignore it
/// too). Idempotent.
void IgnoreSigpipe();

/// A TCP listener on 127.0.0.1:0 with the given backlog; aborts the test binary on failure.
UniqueFd ListenLoopback(int backlog, uint16_t* port);

/// A TCP listener on `ip` (a loopback address such as 127.0.0.7) and `port` (0: any).
UniqueFd ListenOn(const std::string& ip, uint16_t port, int backlog, uint16_t* bound_port);

/// A port on 127.0.0.1 where nothing listens: bound to read a free port, then closed.
uint16_t RefusedPort();

/// Runs `loop` until `done()` or `timeout` (wall time); returns done().
bool RunUntil(net::EventLoop& loop, const std::function<bool()>& done,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A listener that never accepts and whose accept queue is already full (listen(fd, 0) plus
/// connections that fill the queue), so a further connect() stays in SYN_SENT: the kernel
/// drops its SYNs.
class HangingListener {
 public:
  HangingListener();
  uint16_t port() const { return port_; }

 private:
  UniqueFd listener_;
  std::vector<UniqueFd> fillers_;
  uint16_t port_ = 0;
};

/// Accepts connections on 127.0.0.1:0 on its own thread and runs the handler for each, one
/// after the other. The destructor stops the thread, also while a handler waits (handlers wait
/// through WaitReadable, which returns false once the server is stopping).
class LoopbackServer {
 public:
  using Handler = std::function<void(int client_fd, LoopbackServer& server)>;

  explicit LoopbackServer(Handler handler);
  /// Listens on `ip`:`port` instead: several servers on 127.0.0.x share one port, as the
  /// backends behind one name do.
  LoopbackServer(Handler handler, const std::string& ip, uint16_t port);
  /// Listens on a unix socket at `path` instead (port() is 0); the file stays until removed.
  static std::unique_ptr<LoopbackServer> OnUnixSocket(Handler handler, const std::string& path);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  /// Connections accepted so far.
  int accepted() const { return accepted_.load(); }

  /// Blocks until `fd` is readable (or hung up); false when the server is stopping.
  bool WaitReadable(int fd) const;
  /// Waits at most `timeout`: true when `fd` became readable (or hung up) or the server is
  /// stopping, false when the time passed quietly.
  bool WaitReadableFor(int fd, std::chrono::milliseconds timeout) const;
  /// Reads one line ("\n" stripped, "\r" too) from `fd`; false on EOF, error or stop.
  bool ReadLine(int fd, std::string* line);
  /// Writes all of `bytes` (MSG_NOSIGNAL); false on error.
  static bool WriteAll(int fd, std::string_view bytes);

  /// Lines received by handlers that record them (ExpectAndSend below). Thread-safe.
  void Record(std::string line);
  std::vector<std::string> recorded() const;

 private:
  LoopbackServer(Handler handler, UniqueFd listener);
  void Serve();

  Handler handler_;
  UniqueFd listener_;
  UniqueFd stop_fd_;  // eventfd, readable once stopping
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::string pending_;  // bytes read past the last line (ReadLine)
  mutable std::mutex mutex_;
  std::vector<std::string> recorded_;
  std::thread thread_;
};

/// Handlers for LoopbackServer.
namespace handlers {
/// Sends `bytes`, then closes.
LoopbackServer::Handler SendAndClose(std::string bytes);
/// Says nothing; closes when the client does (or the server stops).
LoopbackServer::Handler Silent();
/// Closes with SO_LINGER {1, 0}: the client sees a reset (RST) instead of an orderly close.
LoopbackServer::Handler Reset();
/// Reads one line first, then resets: the client's read after its send sees the reset.
LoopbackServer::Handler ResetAfterLine();
/// Sends `greeting`, records every line the client sends; after each, sends `reply` (when
/// non-empty). Closes when the client does.
LoopbackServer::Handler Converse(std::string greeting, std::string reply);
/// Reads an HTTP request's head (up to the blank line), records its request line, then sends
/// `response` and closes.
LoopbackServer::Handler HttpReply(std::string response);
/// Reads an HTTP request's head, then sends `response` one byte per `interval`.
LoopbackServer::Handler HttpTrickle(std::string response, std::chrono::milliseconds interval);
}  // namespace handlers

/// A TLS server on 127.0.0.1:0 (one thread, blocking SSL_accept per connection) presenting the
/// given PEM certificate chain and key. After the handshake it sends `greeting` and waits until
/// the client closes.
class TlsServer {
 public:
  TlsServer(const std::string& cert_chain_file, const std::string& key_file,
            std::string greeting = "hello\n");
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  uint16_t port() const { return server_->port(); }
  /// Handshakes that completed on the server side.
  int handshakes() const { return handshakes_.load(); }

 private:
  SSL_CTX* ctx_ = nullptr;
  std::string greeting_;
  std::atomic<int> handshakes_{0};
  std::unique_ptr<LoopbackServer> server_;
};

}  // namespace sre::testing
