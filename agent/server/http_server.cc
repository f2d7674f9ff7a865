#include "agent/server/http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>

#include "agent/server/http_server_impl.h"
#include "agent/server/listen_socket.h"

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

namespace {

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

HttpResponse Unauthorized() {
  HttpResponse response = HttpResponse::Text(401, "Unauthorized\n");
  response.headers.emplace_back("WWW-Authenticate", "Basic");
  return response;
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
