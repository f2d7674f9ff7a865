#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/server/basic_auth.h"
#include "agent/server/tls_settings.h"

namespace sre::server {

// Members carry `{}` so that designated initializers compile under -Wextra
// (-Wmissing-field-initializers) when some members are left out.

/// One HTTP request as a handler sees it. Built by the server for each request; a plain value.
struct HttpRequest {
  std::string method{};  ///< "GET", "POST", ... as sent.
  std::string path{};    ///< Percent-decoded path, without the query string.
  /// Percent-decoded query arguments in the order sent; a key without "=" maps to "".
  std::multimap<std::string, std::string> query{};
  /// Header names in lower case; repeated headers are joined with ", " (RFC 9110 5.3).
  std::map<std::string, std::string> headers{};
  std::string body{};            ///< At most `HttpServerOptions::max_request_body` bytes.
  std::string remote_address{};  ///< "127.0.0.1:51234" or "[::1]:51234".

  /// The header `lower_case_name`, or nullptr.
  const std::string* Header(const std::string& lower_case_name) const;
};

/// What a handler answers. The body is shared, not copied: the server hands the bytes to
/// libmicrohttpd and keeps the `shared_ptr` alive until the response has been sent, so a handler
/// may return a body that is also cached elsewhere (a rendered snapshot).
struct HttpResponse {
  int status = 200;  ///< 100..599; anything else is answered as 500.
  std::string content_type = "text/plain; charset=utf-8";  ///< Omitted when empty.
  std::shared_ptr<const std::string> body{};               ///< nullptr: an empty body.
  /// Extra headers. Content-Length and Transfer-Encoding are the server's; a header that
  /// libmicrohttpd refuses (such as one containing CR or LF) turns the answer into a 500.
  std::vector<std::pair<std::string, std::string>> headers{};

  static HttpResponse Text(int status, std::string text);
  static HttpResponse Html(int status, std::string html);
};

/// Answers one request. Called on one of the server's threads, possibly concurrently with other
/// calls (one thread per listen address, more with `threads` > 1), so it must be thread-safe. It
/// blocks the connections of its thread while it runs: it must be quick and must never wait on
/// another component's I/O (read a published snapshot instead). It decides about methods itself
/// (answer 405 with an Allow header). An exception it throws is answered as 500 "internal error".
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// Sends the answer of an asynchronous request. Callable from any thread, also after the server
/// is gone (it then does nothing). Only the first call counts; later ones are ignored.
using HttpRespond = std::function<void(HttpResponse)>;

/// Answers one request later: starts the work and returns, and the work calls `respond` once,
/// from any thread, when it is done. Meanwhile the connection is suspended (libmicrohttpd's
/// suspend/resume), so the server thread goes on serving other connections. Called like an
/// HttpHandler (thread-safe, quick; it may call `respond` before it returns). An exception it
/// throws is answered as 500 unless it responded first.
///
/// The work must end by itself: a suspended connection has no idle timeout, and a client that
/// goes away is only noticed when the answer is sent. A request still unanswered when the server
/// is destroyed gets 503 or is closed without an answer; its `respond` then does nothing.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpRespond respond)>;

/// Who may talk to the server and how: what a web config file (the exporter toolkit's format)
/// sets. The default is plain HTTP, open to anyone.
struct ServerSecurity {
  std::shared_ptr<const TlsSettings> tls{};  ///< nullptr: plain HTTP
  std::shared_ptr<BasicAuth> basic_auth{};   ///< nullptr: no authentication
  /// Added to every answer (Strict-Transport-Security, Content-Security-Policy, ...).
  std::vector<std::pair<std::string, std::string>> headers{};
};

/// How the server listens. Plain values, validated by `HttpServer::Start`.
struct HttpServerOptions {
  /// Where to listen, one socket each:
  ///   ":9101"            every IPv4 interface (0.0.0.0), port 9101. Not IPv6: list "[::]:9101"
  ///                      as well for that;
  ///   "127.0.0.1:9101"   one IPv4 address; "localhost:9101" is 127.0.0.1 (no DNS at start-up);
  ///   "[::1]:9101"       one IPv6 address; IPv6 sockets are IPv6-only (IPV6_V6ONLY), so
  ///                      ":9101" and "[::]:9101" can be listed together.
  /// Port 0 asks the kernel for a free port; `bound_addresses()` tells which.
  std::vector<std::string> listen_addresses = {":9101"};
  /// Concurrent connections per listen address; more wait in the kernel's listen backlog until
  /// one closes. The server is event-driven, so a client that sends slowly (a slowloris) holds
  /// a connection, not a thread: it costs others nothing until the limit is reached.
  unsigned connection_limit = 1024;
  /// An idle connection is closed after this long (rounded up to whole seconds, at least 1s).
  Duration connection_timeout = std::chrono::seconds(10);
  /// Larger request bodies are answered 413 without calling the handler.
  size_t max_request_body = 64 * 1024;
  /// Memory for one connection's request line, headers and buffers: a request whose headers do
  /// not fit is answered 431 (or 414 for a long URL) without calling the handler.
  size_t connection_memory = 32 * 1024;
  /// TLS, authentication and headers; `HttpServer::Reload` replaces them.
  ServerSecurity security{};
  /// Threads per listen address: 1 is one epoll thread, more a pool of epoll threads.
  unsigned threads = 1;
  /// Receives libmicrohttpd's own diagnostics (a client that reset its connection, a malformed
  /// request) and handler exceptions; called on server threads, so it must be thread-safe. Unset:
  /// they are dropped (never printed to stderr).
  std::function<void(std::string_view)> error_log{};
};

/// An HTTP/1.1 server on libmicrohttpd: one daemon per listen address, each with its own epoll
/// thread (or thread pool), exact-path routing, synchronous and asynchronous handlers (ADR 0012).
/// Routes are fixed at start; `Start`, `bound_addresses` and the destructor are called from one
/// owning thread, while requests are served on the server's own threads.
class HttpServer {
 public:
  /// Binds every listen address and starts serving `routes` and `async_routes` (exact path, such
  /// as "/metrics", to handler; a path may be in one of the two only; other paths get 404). Fails,
  /// having bound nothing, on invalid options, a malformed address ("listen address \"x\": ...")
  /// or a socket error ("listen 127.0.0.1:9101: bind: Address already in use").
  static Result<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, std::map<std::string, HttpHandler> routes,
      std::map<std::string, AsyncHttpHandler> async_routes = {});

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  /// Stops serving: closes the listen sockets and open connections (suspended ones, waiting for
  /// an asynchronous answer, included), and waits for running handlers to return.
  ~HttpServer();

  /// Applies new security settings. Authentication and headers change for the next request on
  /// every connection. New TLS settings start a new libmicrohttpd daemon on each listen socket,
  /// which takes every new connection; the old one stops accepting, answers the requests it has
  /// (each with `Connection: close`) and is stopped once its connections are gone, at the latest
  /// a minute later. So scrapes in flight are not dropped. On an error nothing changes.
  Status Reload(ServerSecurity security);

  /// The addresses actually bound, in the order of `listen_addresses`, with the real port when 0
  /// was asked: "127.0.0.1:40123", "0.0.0.0:9101", "[::1]:9101".
  const std::vector<std::string>& bound_addresses() const { return bound_addresses_; }

 private:
  struct Impl;  // libmicrohttpd daemons, routes and callbacks; defined in http_server.cc.

  HttpServer(std::unique_ptr<Impl> impl, std::vector<std::string> bound_addresses);

  std::unique_ptr<Impl> impl_;
  std::vector<std::string> bound_addresses_;
};

}  // namespace sre::server
