#pragma once

// Inside the HTTP server: what http_server.cc (requests) and http_server_reload.cc (daemon
// generations, TLS session hooks) share. Nothing else includes it.

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/server/http_server.h"
#include "agent/server/work_queue.h"

namespace sre::server {

// How long a daemon replaced by a reload may finish its requests before it is stopped anyway.
inline constexpr auto kRetireGrace = std::chrono::seconds(60);
// Requests that may wait for a password check; more are answered 503 at once.
inline constexpr size_t kVerifyQueueLength = 64;

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
void Respond(AsyncCall& call, HttpResponse response) noexcept;
HttpResponse InternalError();
HttpResponse ShuttingDown();

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

}  // namespace sre::server
