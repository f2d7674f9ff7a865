// The server's daemon generations (ADR 0019): a reload with new TLS settings starts a daemon per
// listen socket and retires the old one, which drains and is stopped by a reaper thread; and the
// GnuTLS hooks that check client certificates during the handshake.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "agent/server/http_server_impl.h"

namespace sre::server {
namespace {

bool SameTls(const std::shared_ptr<const TlsSettings>& a,
             const std::shared_ptr<const TlsSettings>& b) {
  return a == b || (a != nullptr && b != nullptr && *a == *b);
}

}  // namespace

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

}  // namespace sre::server
