#include "agent/server/http_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>

namespace sre::server {

const std::string* HttpRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? nullptr : &it->second;
}

HttpResponse HttpResponse::Text(int status, std::string text) {
  HttpResponse response;
  response.status = status;
  response.body = std::make_shared<const std::string>(std::move(text));
  return response;
}

HttpResponse HttpResponse::Html(int status, std::string html) {
  HttpResponse response = Text(status, std::move(html));
  response.content_type = "text/html; charset=utf-8";
  return response;
}

namespace {

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

/// A listen address parsed into a socket address.
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

Result<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.size() > 5 || error != std::errc() || end != text.data() + text.size() ||
      value > 65535) {
    return Status::Error("port must be a number from 0 to 65535");
  }
  return static_cast<uint16_t>(value);
}

/// ":PORT" (every IPv4 interface), "IPV4:PORT", "localhost:PORT", "[IPV6]:PORT".
Result<ListenAddress> ParseListenAddress(const std::string& text) {
  auto fail = [&](std::string_view why) {
    return Status::Error(fmt::format("listen address \"{}\": {}", text, why));
  };
  std::string host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected [IPv6]:port");
    }
    host = text.substr(1, close - 1);
    port_text = std::string_view(text).substr(close + 2);
    bracketed = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return fail("missing port: expected host:port or :port");
    host = text.substr(0, colon);
    port_text = std::string_view(text).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return fail("an IPv6 address needs brackets, as in [::1]:9101");
    }
  }
  Result<uint16_t> port = ParsePort(port_text);
  if (!port.ok()) return fail(port.status().message());

  ListenAddress address;
  if (bracketed) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(*port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      return fail("not an IPv6 address");
    }
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  in4->sin_family = AF_INET;
  in4->sin_port = htons(*port);
  if (host.empty()) {
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (host == "localhost") {
    in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) {
    return fail("host must be an IP address or localhost");
  }
  address.length = sizeof(sockaddr_in);
  return address;
}

/// "1.2.3.4:80" or "[::1]:80"; "" for another family.
std::string FormatSocketAddress(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address == nullptr) return "";
  if (address->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host)) == nullptr) return "";
    return fmt::format("{}:{}", host, ntohs(in4->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) == nullptr) return "";
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  return "";
}

/// A bound, listening, non-blocking socket and the address it got.
struct ListenSocket {
  int fd = -1;
  std::string bound_address;
};

Result<ListenSocket> OpenListenSocket(const std::string& text, const ListenAddress& address) {
  auto fail = [&](std::string_view operation, int error) {
    return Status::Error(fmt::format("listen {}: {}: {}", text, operation, ErrnoText(error)));
  };
  int family = address.storage.ss_family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket", errno);
  auto fail_and_close = [&](std::string_view operation) {
    int error = errno;
    close(fd);
    return fail(operation, error);
  };
  int on = 1;
  // A restarted agent must not wait for the old process's connections in TIME_WAIT. (On Linux
  // this does not let two sockets listen on the same port.)
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    return fail_and_close("setsockopt(SO_REUSEADDR)");
  }
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
    return fail_and_close("setsockopt(IPV6_V6ONLY)");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    return fail_and_close("bind");
  }
  if (listen(fd, SOMAXCONN) != 0) return fail_and_close("listen");
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return fail_and_close("getsockname");
  }
  return ListenSocket{fd, FormatSocketAddress(reinterpret_cast<const sockaddr*>(&bound))};
}

Status ValidateOptions(const HttpServerOptions& options,
                       const std::map<std::string, HttpHandler>& routes,
                       const std::map<std::string, AsyncHttpHandler>& async_routes) {
  if (options.listen_addresses.empty()) return Status::Error("no listen address");
  if (options.threads == 0) return Status::Error("http server: threads must be at least 1");
  if (options.connection_limit < options.threads) {
    return Status::Error(
        fmt::format("http server: connection_limit ({}) must be at least threads ({})",
                    options.connection_limit, options.threads));
  }
  if (options.connection_timeout <= Duration::zero()) {
    return Status::Error("http server: connection_timeout must be positive");
  }
  for (const auto& [path, handler] : routes) {
    if (path.empty() || path.front() != '/') {
      return Status::Error(fmt::format("http server: route \"{}\" must start with /", path));
    }
    if (!handler) return Status::Error(fmt::format("http server: route {} has no handler", path));
  }
  for (const auto& [path, handler] : async_routes) {
    if (path.empty() || path.front() != '/') {
      return Status::Error(fmt::format("http server: route \"{}\" must start with /", path));
    }
    if (!handler) return Status::Error(fmt::format("http server: route {} has no handler", path));
    if (routes.count(path) != 0) {
      return Status::Error(
          fmt::format("http server: route {} is both synchronous and asynchronous", path));
    }
  }
  return Status::Ok();
}

/// One asynchronous request, shared by its connection and the handler's `respond`, which may
/// outlive both the connection and the server. Every field is guarded by `mutex`.
struct AsyncCall {
  std::mutex mutex;
  MHD_Connection* connection = nullptr;  // valid while the request is not completed
  bool suspended = false;                // suspended and not resumed yet
  bool responded = false;                // the answer is decided; later responds are ignored
  std::optional<HttpResponse> response;  // the answer, until the resumed connection queues it
};

/// `respond` of an asynchronous request: keeps the first answer and resumes the connection, which
/// then queues it on its server thread.
void Respond(AsyncCall& call, HttpResponse response) noexcept {
  std::lock_guard lock(call.mutex);
  if (call.responded) return;
  call.responded = true;
  call.response = std::move(response);
  if (call.suspended) {
    call.suspended = false;
    MHD_resume_connection(call.connection);
  }
}

/// libmicrohttpd's free callback for a body it was given without copying.
void ReleaseBody(void* cls) { delete static_cast<std::shared_ptr<const std::string>*>(cls); }

MHD_Result CollectQuery(void* cls, MHD_ValueKind, const char* key, size_t key_size,
                        const char* value, size_t value_size) noexcept {
  try {
    static_cast<std::multimap<std::string, std::string>*>(cls)->emplace(
        std::string(key, key_size),
        value == nullptr ? std::string() : std::string(value, value_size));
    return MHD_YES;
  } catch (...) {
    return MHD_NO;
  }
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, size_t key_size,
                         const char* value, size_t value_size) noexcept {
  try {
    std::string name(key, key_size);
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    std::string_view text =
        value == nullptr ? std::string_view() : std::string_view(value, value_size);
    auto& headers = *static_cast<std::map<std::string, std::string>*>(cls);
    auto [it, inserted] = headers.try_emplace(std::move(name), text);
    if (!inserted) {
      it->second.append(", ");
      it->second.append(text);
    }
    return MHD_YES;
  } catch (...) {
    return MHD_NO;
  }
}

}  // namespace

/// Everything the libmicrohttpd callbacks reach through their `cls` pointer. It outlives the
/// daemons: the destructor stops them first.
struct HttpServer::Impl {
  /// Per request, from the first call of the access handler to the completion callback.
  struct RequestState {
    // Both nullptr once answered early (404, 413).
    const HttpHandler* handler = nullptr;
    const AsyncHttpHandler* async_handler = nullptr;
    std::string body;
    bool body_too_large = false;
    std::shared_ptr<AsyncCall> call;  // once the asynchronous handler has been called

    bool routed() const { return handler != nullptr || async_handler != nullptr; }
  };

  Impl(HttpServerOptions options_in, std::map<std::string, HttpHandler> routes_in,
       std::map<std::string, AsyncHttpHandler> async_routes_in)
      : options(std::move(options_in)),
        routes(std::move(routes_in)),
        async_routes(std::move(async_routes_in)) {}
  ~Impl() {
    // libmicrohttpd must not be stopped with suspended connections: resume each (it is then
    // answered 503, or closed if the daemon stops first) and suspend no more.
    std::vector<std::shared_ptr<AsyncCall>> calls;
    {
      std::lock_guard lock(suspended_mutex);
      stopping = true;
      calls.assign(suspended.begin(), suspended.end());
    }
    for (const auto& call : calls) {
      std::lock_guard lock(call->mutex);
      if (!call->suspended) continue;
      if (!call->responded) {
        call->responded = true;
        call->response = ShuttingDown();
      }
      call->suspended = false;
      MHD_resume_connection(call->connection);
    }
    for (MHD_Daemon* daemon : daemons) MHD_stop_daemon(daemon);
  }

  Result<MHD_Daemon*> StartDaemon(const std::string& address, int listen_fd);

  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* version, const char* upload_data,
                              size_t* upload_data_size, void** request_state) noexcept;
  static void OnRequestCompleted(void* cls, MHD_Connection* connection, void** request_state,
                                 MHD_RequestTerminationCode termination) noexcept;
  static void OnLog(void* cls, const char* format, va_list args) noexcept;

  MHD_Result Answer(MHD_Connection* connection, const char* url, const char* method,
                    RequestState& state);
  MHD_Result AnswerAsync(MHD_Connection* connection, const HttpRequest& request,
                         RequestState& state);
  MHD_Result AnswerResumed(MHD_Connection* connection, RequestState& state);
  MHD_Result Queue(MHD_Connection* connection, const HttpResponse& response);
  void Log(std::string_view message) const noexcept;
  HttpResponse BodyTooLarge() const {
    return HttpResponse::Text(
        413, fmt::format("request body too large (limit {} bytes)\n", options.max_request_body));
  }
  static HttpResponse ShuttingDown() {
    return HttpResponse::Text(503, "the server is shutting down\n");
  }

  const HttpServerOptions options;
  const std::map<std::string, HttpHandler> routes;
  const std::map<std::string, AsyncHttpHandler> async_routes;
  std::vector<MHD_Daemon*> daemons;

  std::mutex suspended_mutex;                      // taken before any AsyncCall::mutex
  bool stopping = false;                           // guarded by suspended_mutex
  std::set<std::shared_ptr<AsyncCall>> suspended;  // guarded by suspended_mutex
};

Result<MHD_Daemon*> HttpServer::Impl::StartDaemon(const std::string& address, int listen_fd) {
  // Whole seconds, rounded up; libmicrohttpd takes an unsigned int.
  const int64_t timeout_seconds = std::clamp<int64_t>(
      std::chrono::ceil<std::chrono::seconds>(options.connection_timeout).count(), 1,
      std::numeric_limits<unsigned>::max());
  MHD_OptionItem items[] = {
      // First, or libmicrohttpd prints messages about the options before it to stderr.
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Impl::OnLog), this},
      {MHD_OPTION_LISTEN_SOCKET, listen_fd, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.connection_limit), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(timeout_seconds), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::OnRequestCompleted), this},
      // Only with a pool: a pool size of 1 makes libmicrohttpd log a warning.
      {options.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
       static_cast<intptr_t>(options.threads), nullptr},
      {MHD_OPTION_END, 0, nullptr},
  };
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (!async_routes.empty()) flags |= MHD_ALLOW_SUSPEND_RESUME;
  MHD_Daemon* daemon = MHD_start_daemon(flags, /*port=*/0,
                                        /*apc=*/nullptr, /*apc_cls=*/nullptr, &Impl::OnRequest,
                                        this, MHD_OPTION_ARRAY, items, MHD_OPTION_END);
  if (daemon == nullptr) {
    // libmicrohttpd 0.9.75 closes `listen_fd` on some failure paths (thread creation) and not on
    // others (option checks), so it is left alone here: a leaked descriptor in a process that
    // fails to start beats closing a number another thread may already reuse.
    return Status::Error(fmt::format(
        "listen {}: libmicrohttpd failed to start (out of threads or memory?)", address));
  }
  return daemon;
}

MHD_Result HttpServer::Impl::OnRequest(void* cls, MHD_Connection* connection, const char* url,
                                       const char* method, const char* /*version*/,
                                       const char* upload_data, size_t* upload_data_size,
                                       void** request_state) noexcept {
  auto* self = static_cast<Impl*>(cls);
  try {
    auto* state = static_cast<RequestState*>(*request_state);
    if (state == nullptr) {
      // First call: the headers are in, the body (if any) is not.
      state = new RequestState;
      *request_state = state;
      auto route = self->routes.find(url);
      auto async_route = self->async_routes.find(url);
      if (route == self->routes.end() && async_route == self->async_routes.end()) {
        return self->Queue(connection, HttpResponse::Text(404, "404 page not found\n"));
      }
      const char* length =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (length != nullptr &&
          std::from_chars(length, length + std::strlen(length), declared).ec == std::errc() &&
          declared > self->options.max_request_body) {
        // Answered before the body is read: no "100 Continue", and the connection is closed.
        return self->Queue(connection, self->BodyTooLarge());
      }
      if (route != self->routes.end()) {
        state->handler = &route->second;
      } else {
        state->async_handler = &async_route->second;
      }
      return MHD_YES;
    }
    if (*upload_data_size != 0) {
      // A chunk of the body; a chunked body has no Content-Length to refuse it early.
      if (state->routed() && !state->body_too_large) {
        if (*upload_data_size > self->options.max_request_body - state->body.size()) {
          state->body_too_large = true;
          std::string().swap(state->body);
        } else {
          state->body.append(upload_data, *upload_data_size);
        }
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (!state->routed()) return MHD_YES;  // Already answered.
    if (state->call != nullptr) return self->AnswerResumed(connection, *state);
    if (state->body_too_large) return self->Queue(connection, self->BodyTooLarge());
    return self->Answer(connection, url, method, *state);
  } catch (...) {
    // Only our own bookkeeping can get here (out of memory): drop the connection.
    return MHD_NO;
  }
}

void HttpServer::Impl::OnRequestCompleted(void* cls, MHD_Connection* /*connection*/,
                                          void** request_state,
                                          MHD_RequestTerminationCode /*termination*/) noexcept {
  auto* self = static_cast<Impl*>(cls);
  auto* state = static_cast<RequestState*>(*request_state);
  if (state != nullptr && state->call != nullptr) {
    std::lock_guard registry_lock(self->suspended_mutex);
    self->suspended.erase(state->call);
    std::lock_guard lock(state->call->mutex);
    // A `respond` still to come finds the request answered and leaves the connection alone.
    state->call->responded = true;
    state->call->suspended = false;
    state->call->connection = nullptr;
    state->call->response.reset();
  }
  delete state;
  *request_state = nullptr;
}

void HttpServer::Impl::OnLog(void* cls, const char* format, va_list args) noexcept {
  const auto* self = static_cast<const Impl*>(cls);
  if (!self->options.error_log) return;
  char line[512];
  int length = std::vsnprintf(line, sizeof(line), format, args);
  if (length < 0) return;
  std::string_view text(line, std::min<size_t>(static_cast<size_t>(length), sizeof(line) - 1));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  self->Log(fmt::format("libmicrohttpd: {}", text));
}

void HttpServer::Impl::Log(std::string_view message) const noexcept {
  if (!options.error_log) return;
  try {
    options.error_log(message);
  } catch (...) {
    // A logger that throws loses its line; nothing may unwind into libmicrohttpd.
  }
}

MHD_Result HttpServer::Impl::Answer(MHD_Connection* connection, const char* url, const char* method,
                                    RequestState& state) {
  HttpRequest request;
  request.method = method;
  request.path = url;
  request.body = std::move(state.body);
  MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery, &request.query);
  MHD_get_connection_values_n(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
  if (const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) {
    request.remote_address = FormatSocketAddress(info->client_addr);
  }
  if (state.async_handler != nullptr) return AnswerAsync(connection, request, state);
  HttpResponse response;
  try {
    response = (*state.handler)(request);
  } catch (const std::exception& e) {
    Log(fmt::format("handler for {} {} threw: {}", request.method, request.path, e.what()));
    response = HttpResponse::Text(500, "internal error\n");
  } catch (...) {
    Log(fmt::format("handler for {} {} threw a non-standard exception", request.method,
                    request.path));
    response = HttpResponse::Text(500, "internal error\n");
  }
  return Queue(connection, response);
}

MHD_Result HttpServer::Impl::AnswerAsync(MHD_Connection* connection, const HttpRequest& request,
                                         RequestState& state) {
  auto call = std::make_shared<AsyncCall>();
  call->connection = connection;
  state.call = call;
  HttpRespond respond = [call](HttpResponse response) { Respond(*call, std::move(response)); };
  try {
    (*state.async_handler)(request, std::move(respond));
  } catch (const std::exception& e) {
    Log(fmt::format("handler for {} {} threw: {}", request.method, request.path, e.what()));
    Respond(*call, HttpResponse::Text(500, "internal error\n"));
  } catch (...) {
    Log(fmt::format("handler for {} {} threw a non-standard exception", request.method,
                    request.path));
    Respond(*call, HttpResponse::Text(500, "internal error\n"));
  }
  std::unique_lock registry_lock(suspended_mutex);
  std::unique_lock lock(call->mutex);
  if (!call->responded && stopping) {
    call->responded = true;
    call->response = ShuttingDown();
  }
  if (call->responded) {  // answered already, on this thread or another: no need to wait
    HttpResponse response =
        call->response ? std::move(*call->response) : HttpResponse::Text(500, "internal error\n");
    call->response.reset();
    lock.unlock();
    registry_lock.unlock();
    return Queue(connection, response);
  }
  // Until `respond` resumes it, libmicrohttpd leaves the connection alone and serves others.
  suspended.insert(call);
  call->suspended = true;
  MHD_suspend_connection(connection);
  return MHD_YES;
}

MHD_Result HttpServer::Impl::AnswerResumed(MHD_Connection* connection, RequestState& state) {
  std::optional<HttpResponse> response;
  {
    std::lock_guard registry_lock(suspended_mutex);
    suspended.erase(state.call);
    std::lock_guard lock(state.call->mutex);
    response.swap(state.call->response);
  }
  if (!response) {
    // Resumed without an answer: nothing does that, but never leave a client hanging.
    Log("asynchronous request resumed without an answer");
    return Queue(connection, HttpResponse::Text(500, "internal error\n"));
  }
  return Queue(connection, *response);
}

MHD_Result HttpServer::Impl::Queue(MHD_Connection* connection, const HttpResponse& response) {
  if (response.status < 100 || response.status > 599) {
    Log(fmt::format("handler answered with invalid status {}", response.status));
    return Queue(connection, HttpResponse::Text(500, "internal error\n"));
  }
  MHD_Response* mhd_response = nullptr;
  if (response.body == nullptr || response.body->empty()) {
    mhd_response = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  } else {
    // No copy: libmicrohttpd reads the handler's string and releases our reference when done.
    auto* holder = new std::shared_ptr<const std::string>(response.body);
    mhd_response = MHD_create_response_from_buffer_with_free_callback_cls(
        (*holder)->size(), const_cast<char*>((*holder)->data()), &ReleaseBody, holder);
    if (mhd_response == nullptr) delete holder;  // Not handed over.
  }
  if (mhd_response == nullptr) return MHD_NO;
  bool headers_ok = response.content_type.empty() ||
                    MHD_add_response_header(mhd_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                            response.content_type.c_str()) == MHD_YES;
  for (const auto& [name, value] : response.headers) {
    if (!headers_ok) break;
    headers_ok = MHD_add_response_header(mhd_response, name.c_str(), value.c_str()) == MHD_YES;
    if (!headers_ok) Log(fmt::format("libmicrohttpd refused response header \"{}\"", name));
  }
  if (!headers_ok) {
    MHD_destroy_response(mhd_response);
    return Queue(connection, HttpResponse::Text(500, "internal error\n"));
  }
  MHD_Result result =
      MHD_queue_response(connection, static_cast<unsigned>(response.status), mhd_response);
  MHD_destroy_response(mhd_response);  // The queued response holds its own reference.
  return result;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, std::map<std::string, HttpHandler> routes,
    std::map<std::string, AsyncHttpHandler> async_routes) {
  if (Status valid = ValidateOptions(options, routes, async_routes); !valid.ok()) return valid;
  // Parse every address before binding any, so a typo in the second binds nothing.
  std::vector<ListenAddress> addresses;
  for (const std::string& text : options.listen_addresses) {
    Result<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.status();
    addresses.push_back(*address);
  }
  auto impl =
      std::make_unique<Impl>(std::move(options), std::move(routes), std::move(async_routes));
  std::vector<std::string> bound_addresses;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string& text = impl->options.listen_addresses[i];
    Result<ListenSocket> socket = OpenListenSocket(text, addresses[i]);
    if (!socket.ok()) return socket.status();  // ~Impl stops the daemons already started.
    Result<MHD_Daemon*> daemon = impl->StartDaemon(text, socket->fd);
    if (!daemon.ok()) return daemon.status();
    impl->daemons.push_back(*daemon);
    bound_addresses.push_back(socket->bound_address);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), std::move(bound_addresses)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, std::vector<std::string> bound_addresses)
    : impl_(std::move(impl)), bound_addresses_(std::move(bound_addresses)) {}

HttpServer::~HttpServer() = default;

}  // namespace sre::server
