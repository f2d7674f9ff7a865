#include "agent/server/http_server.h"

#include <fmt/format.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "agent/server/listen_socket.h"
#include "agent/server/work_queue.h"

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

// How long a daemon replaced by a reload may finish its requests before it is stopped anyway.
constexpr auto kRetireGrace = std::chrono::seconds(60);
// Requests that may wait for a password check; more are answered 503 at once.
constexpr size_t kVerifyQueueLength = 64;

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
  const void* generation = nullptr;      // the daemon generation serving the connection
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

HttpResponse InternalError() { return HttpResponse::Text(500, "internal error\n"); }

HttpResponse ShuttingDown() { return HttpResponse::Text(503, "the server is shutting down\n"); }

HttpResponse Unauthorized() {
  HttpResponse response = HttpResponse::Text(401, "Unauthorized\n");
  response.headers.emplace_back("WWW-Authenticate", "Basic");
  return response;
}

bool SameTls(const std::shared_ptr<const TlsSettings>& a,
             const std::shared_ptr<const TlsSettings>& b) {
  return a == b || (a != nullptr && b != nullptr && *a == *b);
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
  /// One libmicrohttpd daemon serving one listen socket with one set of TLS settings. A reload
  /// with new TLS settings starts a new generation per socket and retires the old ones.
  struct Generation {
    Impl* impl = nullptr;
    std::string address;  // as listed, for messages
    int listen_fd = -1;
    std::shared_ptr<const TlsSettings> tls;
    MHD_Daemon* daemon = nullptr;
    std::atomic<bool> retired{false};
    std::chrono::steady_clock::time_point stop_by{};  // guarded by generations_mutex
    bool stopping = false;                            // guarded by suspended_mutex
  };

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
        async_routes(std::move(async_routes_in)),
        security(std::make_shared<const ServerSecurity>(options.security)) {}
  ~Impl();

  Result<std::unique_ptr<Generation>> StartGeneration(const std::string& address, int listen_fd,
                                                      std::shared_ptr<const TlsSettings> tls);
  void StopGeneration(Generation& generation);
  Status Reload(ServerSecurity next);
  void ReapRetired();
  void ResumeSuspended(const Generation* only);
  std::shared_ptr<const ServerSecurity> Security() const {
    std::lock_guard lock(security_mutex);
    return security;
  }

  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* version, const char* upload_data,
                              size_t* upload_data_size, void** request_state) noexcept;
  static void OnRequestCompleted(void* cls, MHD_Connection* connection, void** request_state,
                                 MHD_RequestTerminationCode termination) noexcept;
  static void OnConnection(void* cls, MHD_Connection* connection, void** socket_context,
                           MHD_ConnectionNotificationCode code) noexcept;
  static int VerifyClientCertificate(gnutls_session_t session) noexcept;
  static void OnLog(void* cls, const char* format, va_list args) noexcept;

  MHD_Result Answer(Generation& generation, MHD_Connection* connection, const char* url,
                    const char* method, RequestState& state);
  MHD_Result AnswerAsync(Generation& generation, MHD_Connection* connection,
                         const HttpRequest& request, RequestState& state,
                         const AsyncHttpHandler& handler);
  MHD_Result AnswerResumed(Generation& generation, MHD_Connection* connection, RequestState& state);
  AsyncHttpHandler VerifyThenServe(std::shared_ptr<BasicAuth> auth, const RequestState& state);
  HttpResponse CallHandler(const HttpHandler& handler, const HttpRequest& request) const;
  void CallAsyncHandler(const AsyncHttpHandler& handler, const HttpRequest& request,
                        const HttpRespond& respond) const;
  MHD_Result Queue(const Generation& generation, MHD_Connection* connection,
                   const HttpResponse& response);
  void Log(std::string_view message) const noexcept;
  HttpResponse BodyTooLarge() const {
    return HttpResponse::Text(
        413, fmt::format("request body too large (limit {} bytes)\n", options.max_request_body));
  }

  const HttpServerOptions options;
  const std::map<std::string, HttpHandler> routes;
  const std::map<std::string, AsyncHttpHandler> async_routes;

  mutable std::mutex security_mutex;
  std::shared_ptr<const ServerSecurity> security;  // guarded by security_mutex

  // Checks a password with bcrypt off the server threads; reset first when stopping.
  std::unique_ptr<WorkQueue> verify_queue = std::make_unique<WorkQueue>(kVerifyQueueLength);

  std::mutex reload_mutex;  // one reload at a time
  bool closed = false;      // guarded by reload_mutex: no reload once stopping
  std::mutex generations_mutex;
  std::vector<std::unique_ptr<Generation>> current;  // one per listen address
  std::vector<std::unique_ptr<Generation>> retired;  // guarded by generations_mutex
  std::condition_variable reaper_wake;               // with generations_mutex
  bool reaper_stopping = false;                      // guarded by generations_mutex
  std::thread reaper;                                // started by the first retirement

  std::mutex suspended_mutex;                      // taken before any AsyncCall::mutex
  bool stopping = false;                           // guarded by suspended_mutex
  std::set<std::shared_ptr<AsyncCall>> suspended;  // guarded by suspended_mutex

  // The generation of the daemon thread running: every thread of a daemon serves only that
  // daemon's connections, and GnuTLS's verify callback gets nothing but the session (whose user
  // pointer libmicrohttpd uses itself). Set when a connection starts, before its handshake.
  static thread_local const Generation* current_generation;
};

thread_local const HttpServer::Impl::Generation* HttpServer::Impl::current_generation = nullptr;

HttpServer::Impl::~Impl() {
  {
    // A reload running on a server thread finishes first; none starts after.
    std::lock_guard lock(reload_mutex);
    closed = true;
  }
  verify_queue.reset();  // answers the requests still waiting for a check
  {
    std::lock_guard lock(generations_mutex);
    reaper_stopping = true;
  }
  reaper_wake.notify_all();
  if (reaper.joinable()) reaper.join();
  // libmicrohttpd must not be stopped with suspended connections: resume each (it is then
  // answered 503, or closed if the daemon stops first) and suspend no more.
  ResumeSuspended(nullptr);
  for (auto* list : {&current, &retired}) {
    for (auto& generation : *list) {
      if (generation->daemon != nullptr) MHD_stop_daemon(generation->daemon);
    }
  }
}

void HttpServer::Impl::ResumeSuspended(const Generation* only) {
  std::vector<std::shared_ptr<AsyncCall>> calls;
  {
    std::lock_guard lock(suspended_mutex);
    if (only == nullptr) stopping = true;
    for (const auto& call : suspended) {
      std::lock_guard call_lock(call->mutex);
      if (only == nullptr || call->generation == only) calls.push_back(call);
    }
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
}

Result<std::unique_ptr<HttpServer::Impl::Generation>> HttpServer::Impl::StartGeneration(
    const std::string& address, int listen_fd, std::shared_ptr<const TlsSettings> tls) {
  auto generation = std::make_unique<Generation>();
  generation->impl = this;
  generation->address = address;
  generation->listen_fd = listen_fd;
  generation->tls = std::move(tls);
  // Whole seconds, rounded up; libmicrohttpd takes an unsigned int.
  const int64_t timeout_seconds = std::clamp<int64_t>(
      std::chrono::ceil<std::chrono::seconds>(options.connection_timeout).count(), 1,
      std::numeric_limits<unsigned>::max());
  std::vector<MHD_OptionItem> items = {
      // First, or libmicrohttpd prints messages about the options before it to stderr.
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Impl::OnLog), this},
      {MHD_OPTION_LISTEN_SOCKET, listen_fd, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.connection_limit), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(timeout_seconds), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options.connection_memory),
       nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::OnRequestCompleted),
       generation.get()},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::OnConnection),
       generation.get()},
  };
  // Only with a pool: a pool size of 1 makes libmicrohttpd log a warning.
  if (options.threads > 1) {
    items.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads), nullptr});
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;  // ITC: for MHD_quiesce_daemon
  if (const TlsSettings* t = generation->tls.get()) {
    flags |= MHD_USE_TLS;
    // libmicrohttpd copies none of these: `generation->tls` keeps them alive as long as it.
    items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(t->cert_pem.c_str())});
    items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(t->key_pem.c_str())});
    items.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(t->priorities.c_str())});
    if (!t->client_ca_pem.empty()) {
      items.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(t->client_ca_pem.c_str())});
    }
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  generation->daemon =
      MHD_start_daemon(flags, /*port=*/0, /*apc=*/nullptr, /*apc_cls=*/nullptr, &Impl::OnRequest,
                       generation.get(), MHD_OPTION_ARRAY, items.data(), MHD_OPTION_END);
  if (generation->daemon == nullptr) {
    // libmicrohttpd 0.9.75 closes `listen_fd` on some failure paths (thread creation) and not on
    // others (option checks), so it is left alone here: a leaked descriptor in a process that
    // fails to start beats closing a number another thread may already reuse.
    return Status::Error(fmt::format(
        "listen {}: libmicrohttpd failed to start (out of threads or memory, or TLS settings "
        "GnuTLS refused?)",
        address));
  }
  return generation;
}

void HttpServer::Impl::StopGeneration(Generation& generation) {
  {
    std::lock_guard lock(suspended_mutex);
    generation.stopping = true;
  }
  ResumeSuspended(&generation);
  MHD_stop_daemon(generation.daemon);
  generation.daemon = nullptr;
}

Status HttpServer::Impl::Reload(ServerSecurity next_in) {
  auto next = std::make_shared<const ServerSecurity>(std::move(next_in));
  std::lock_guard reload_lock(reload_mutex);
  if (closed) return Status::Error("the server is shutting down");
  if (!SameTls(Security()->tls, next->tls)) {
    // Every new daemon first, so that a failure leaves the old ones serving.
    std::vector<std::unique_ptr<Generation>> fresh;
    for (const auto& old : current) {
      Result<std::unique_ptr<Generation>> started =
          StartGeneration(old->address, old->listen_fd, next->tls);
      if (!started.ok()) {
        for (auto& generation : fresh) {
          MHD_quiesce_daemon(generation->daemon);  // so that stopping it keeps the socket open
          MHD_stop_daemon(generation->daemon);
        }
        return started.status();
      }
      fresh.push_back(std::move(started).value());
    }
    std::lock_guard lock(generations_mutex);
    const auto stop_by = std::chrono::steady_clock::now() + kRetireGrace;
    for (size_t i = 0; i < current.size(); ++i) {
      // Both daemons poll the socket until this returns; from then on only the new one accepts.
      MHD_quiesce_daemon(current[i]->daemon);
      current[i]->retired = true;
      current[i]->stop_by = stop_by;
      retired.push_back(std::exchange(current[i], std::move(fresh[i])));
    }
    if (!reaper.joinable()) reaper = std::thread(&Impl::ReapRetired, this);
  }
  std::lock_guard lock(security_mutex);
  security = std::move(next);
  return Status::Ok();
}

void HttpServer::Impl::ReapRetired() {
  std::unique_lock lock(generations_mutex);
  while (!reaper_stopping) {
    // Polled: libmicrohttpd tells of no connection closing, and a retired daemon lives seconds.
    reaper_wake.wait_for(lock, std::chrono::milliseconds(200));
    std::vector<std::unique_ptr<Generation>> done;
    const auto now = std::chrono::steady_clock::now();
    for (auto& generation : retired) {
      const MHD_DaemonInfo* info =
          MHD_get_daemon_info(generation->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
      if ((info != nullptr && info->num_connections == 0) || now >= generation->stop_by) {
        done.push_back(std::move(generation));
      }
    }
    std::erase(retired, nullptr);
    lock.unlock();
    for (auto& generation : done) StopGeneration(*generation);
    lock.lock();
  }
}

MHD_Result HttpServer::Impl::OnRequest(void* cls, MHD_Connection* connection, const char* url,
                                       const char* method, const char* /*version*/,
                                       const char* upload_data, size_t* upload_data_size,
                                       void** request_state) noexcept {
  auto& generation = *static_cast<Generation*>(cls);
  Impl* self = generation.impl;
  try {
    auto* state = static_cast<RequestState*>(*request_state);
    if (state == nullptr) {
      // First call: the headers are in, the body (if any) is not.
      state = new RequestState;
      *request_state = state;
      auto route = self->routes.find(url);
      auto async_route = self->async_routes.find(url);
      if (route == self->routes.end() && async_route == self->async_routes.end()) {
        return self->Queue(generation, connection, HttpResponse::Text(404, "404 page not found\n"));
      }
      const char* length =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (length != nullptr &&
          std::from_chars(length, length + std::strlen(length), declared).ec == std::errc() &&
          declared > self->options.max_request_body) {
        // Answered before the body is read: no "100 Continue", and the connection is closed.
        return self->Queue(generation, connection, self->BodyTooLarge());
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
    if (state->call != nullptr) return self->AnswerResumed(generation, connection, *state);
    if (state->body_too_large) return self->Queue(generation, connection, self->BodyTooLarge());
    return self->Answer(generation, connection, url, method, *state);
  } catch (...) {
    // Only our own bookkeeping can get here (out of memory): drop the connection.
    return MHD_NO;
  }
}

void HttpServer::Impl::OnRequestCompleted(void* cls, MHD_Connection* /*connection*/,
                                          void** request_state,
                                          MHD_RequestTerminationCode /*termination*/) noexcept {
  Impl* self = static_cast<Generation*>(cls)->impl;
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

void HttpServer::Impl::OnConnection(void* cls, MHD_Connection* connection, void** /*context*/,
                                    MHD_ConnectionNotificationCode code) noexcept {
  if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
  const auto* generation = static_cast<const Generation*>(cls);
  current_generation = generation;
  if (generation->tls == nullptr || generation->tls->client_auth == ClientAuth::kNone) return;
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return;
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  const TlsSettings& tls = *generation->tls;
  // Before the handshake: a client without an acceptable certificate fails it, as with Go.
  gnutls_certificate_server_set_request(
      session, RequiresClientCert(tls.client_auth) ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
  if (VerifiesClientCert(tls.client_auth) || !tls.client_allowed_sans.empty()) {
    gnutls_session_set_verify_function(session, &Impl::VerifyClientCertificate);
  }
}

int HttpServer::Impl::VerifyClientCertificate(gnutls_session_t session) noexcept {
  const Generation* generation = current_generation;
  if (generation == nullptr || generation->tls == nullptr) return GNUTLS_E_CERTIFICATE_ERROR;
  const TlsSettings& tls = *generation->tls;
  unsigned count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &count);
  if (count == 0) {
    // No certificate: GNUTLS_CERT_REQUIRE already failed the handshake where one is required.
    return tls.client_allowed_sans.empty() ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
  }
  if (VerifiesClientCert(tls.client_auth)) {
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0) {
      gnutls_datum_t text = {nullptr, 0};
      if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
        generation->impl->Log(fmt::format("client certificate refused: {}",
                                          reinterpret_cast<const char*>(text.data)));
        gnutls_free(text.data);
      }
      return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    }
  }
  if (!tls.client_allowed_sans.empty()) {
    const std::string_view der(reinterpret_cast<const char*>(chain[0].data), chain[0].size);
    for (const std::string& san : CertificateSans(der)) {
      if (std::find(tls.client_allowed_sans.begin(), tls.client_allowed_sans.end(), san) !=
          tls.client_allowed_sans.end()) {
        return 0;
      }
    }
    generation->impl->Log("client certificate refused: none of its SANs is in client_allowed_sans");
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  return 0;
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

HttpResponse HttpServer::Impl::CallHandler(const HttpHandler& handler,
                                           const HttpRequest& request) const {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    Log(fmt::format("handler for {} {} threw: {}", request.method, request.path, e.what()));
  } catch (...) {
    Log(fmt::format("handler for {} {} threw a non-standard exception", request.method,
                    request.path));
  }
  return InternalError();
}

void HttpServer::Impl::CallAsyncHandler(const AsyncHttpHandler& handler, const HttpRequest& request,
                                        const HttpRespond& respond) const {
  try {
    handler(request, respond);
    return;
  } catch (const std::exception& e) {
    Log(fmt::format("handler for {} {} threw: {}", request.method, request.path, e.what()));
  } catch (...) {
    Log(fmt::format("handler for {} {} threw a non-standard exception", request.method,
                    request.path));
  }
  respond(InternalError());
}

MHD_Result HttpServer::Impl::Answer(Generation& generation, MHD_Connection* connection,
                                    const char* url, const char* method, RequestState& state) {
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
  if (std::shared_ptr<BasicAuth> auth = Security()->basic_auth) {
    switch (auth->Lookup(request.Header("authorization"))) {
      case BasicAuth::Decision::kDenied:
        return Queue(generation, connection, Unauthorized());
      case BasicAuth::Decision::kNeedsVerify:
        return AnswerAsync(generation, connection, request, state,
                           VerifyThenServe(std::move(auth), state));
      case BasicAuth::Decision::kAllowed:
        break;
    }
  }
  if (state.async_handler != nullptr) {
    return AnswerAsync(generation, connection, request, state, *state.async_handler);
  }
  return Queue(generation, connection, CallHandler(*state.handler, request));
}

AsyncHttpHandler HttpServer::Impl::VerifyThenServe(std::shared_ptr<BasicAuth> auth,
                                                   const RequestState& state) {
  const HttpHandler* handler = state.handler;
  const AsyncHttpHandler* async_handler = state.async_handler;
  return [this, auth = std::move(auth), handler, async_handler](const HttpRequest& request,
                                                                HttpRespond respond) {
    // On the queue's thread: handlers are thread-safe, so the request is served right there.
    auto check_then_serve = [this, auth, handler, async_handler, request, respond] {
      if (!auth->Verify(*request.Header("authorization"))) return respond(Unauthorized());
      if (async_handler != nullptr) return CallAsyncHandler(*async_handler, request, respond);
      respond(CallHandler(*handler, request));
    };
    if (!verify_queue->Submit(std::move(check_then_serve),
                              [respond] { respond(ShuttingDown()); })) {
      respond(HttpResponse::Text(503, "too many requests waiting for a password check\n"));
    }
  };
}

MHD_Result HttpServer::Impl::AnswerAsync(Generation& generation, MHD_Connection* connection,
                                         const HttpRequest& request, RequestState& state,
                                         const AsyncHttpHandler& handler) {
  auto call = std::make_shared<AsyncCall>();
  call->connection = connection;
  call->generation = &generation;
  state.call = call;
  CallAsyncHandler(handler, request,
                   [call](HttpResponse response) { Respond(*call, std::move(response)); });
  std::unique_lock registry_lock(suspended_mutex);
  std::unique_lock lock(call->mutex);
  if (!call->responded && (stopping || generation.stopping)) {
    call->responded = true;
    call->response = ShuttingDown();
  }
  if (call->responded) {  // answered already, on this thread or another: no need to wait
    HttpResponse response = call->response ? std::move(*call->response) : InternalError();
    call->response.reset();
    lock.unlock();
    registry_lock.unlock();
    return Queue(generation, connection, response);
  }
  // Until `respond` resumes it, libmicrohttpd leaves the connection alone and serves others.
  suspended.insert(call);
  call->suspended = true;
  MHD_suspend_connection(connection);
  return MHD_YES;
}

MHD_Result HttpServer::Impl::AnswerResumed(Generation& generation, MHD_Connection* connection,
                                           RequestState& state) {
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
    return Queue(generation, connection, InternalError());
  }
  return Queue(generation, connection, *response);
}

MHD_Result HttpServer::Impl::Queue(const Generation& generation, MHD_Connection* connection,
                                   const HttpResponse& response) {
  if (response.status < 100 || response.status > 599) {
    Log(fmt::format("handler answered with invalid status {}", response.status));
    return Queue(generation, connection, InternalError());
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
  auto add = [&](const std::vector<std::pair<std::string, std::string>>& headers) {
    for (const auto& [name, value] : headers) {
      if (!headers_ok) break;
      headers_ok = MHD_add_response_header(mhd_response, name.c_str(), value.c_str()) == MHD_YES;
      if (!headers_ok) Log(fmt::format("libmicrohttpd refused response header \"{}\"", name));
    }
  };
  add(response.headers);
  add(Security()->headers);
  if (generation.retired) {
    // The client reconnects, and so reaches the daemon with the current TLS settings.
    add({{MHD_HTTP_HEADER_CONNECTION, "close"}});
  }
  if (!headers_ok) {
    MHD_destroy_response(mhd_response);
    return Queue(generation, connection, InternalError());
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
    auto generation = impl->StartGeneration(text, socket->fd, impl->options.security.tls);
    if (!generation.ok()) return generation.status();
    impl->current.push_back(std::move(generation).value());
    bound_addresses.push_back(socket->bound_address);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), std::move(bound_addresses)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, std::vector<std::string> bound_addresses)
    : impl_(std::move(impl)), bound_addresses_(std::move(bound_addresses)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Reload(ServerSecurity security) { return impl_->Reload(std::move(security)); }

}  // namespace sre::server
