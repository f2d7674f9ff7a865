#include "agent/server/web_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include "agent/config/schema.h"

namespace sre::server {
namespace {

struct TlsSection {
  std::string cert;
  std::string key;
  std::string client_ca;
  std::string client_auth_type;
  std::vector<std::string> client_allowed_sans;
  TlsOptions options;

  bool enabled() const {
    return !cert.empty() || !key.empty() || !client_ca.empty() || !client_auth_type.empty();
  }
};

struct HttpSection {
  bool http2 = true;
  std::map<std::string, std::string> headers;
};

struct WebConfigFile {
  TlsSection tls;
  HttpSection http;
  std::map<std::string, std::string> basic_auth_users;
};

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

/// The headers the toolkit lets a file set, and the values it allows (empty: any).
struct AllowedHeader {
  std::string_view name;
  std::array<std::string_view, 2> values;
};
constexpr std::array<AllowedHeader, 5> kAllowedHeaders = {{
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff", ""}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
}};

std::optional<std::string> CheckHeaders(const std::map<std::string, std::string>& headers) {
  for (const auto& header : headers) {
    const std::string& name = header.first;  // not a structured binding: the lambda captures it
    const std::string& value = header.second;
    auto it = std::find_if(kAllowedHeaders.begin(), kAllowedHeaders.end(),
                           [&](const AllowedHeader& h) { return h.name == name; });
    if (it == kAllowedHeaders.end()) {
      return fmt::format(
          "header \"{}\" cannot be set; allowed: Strict-Transport-Security, "
          "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy",
          name);
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return fmt::format("header \"{}\": a value cannot hold a line break", name);
    }
    if (!it->values[0].empty() && Lower(value) != it->values[0] &&
        (it->values[1].empty() || Lower(value) != it->values[1])) {
      return fmt::format("header \"{}\": \"{}\" is not allowed; expected {}{}", name, value,
                         it->values[0],
                         it->values[1].empty() ? "" : " or " + std::string(it->values[1]));
    }
  }
  return std::nullopt;
}

std::optional<std::string> CheckTls(const TlsSection& tls) {
  if (!tls.enabled()) return std::nullopt;
  if (tls.cert.empty()) return "TLS needs a certificate: set cert_file (or cert)";
  if (tls.key.empty()) return "TLS needs a private key: set key_file (or key)";
  Result<ClientAuth> mode = ParseClientAuth(tls.client_auth_type);
  if (!mode.ok()) return mode.status().message();
  if (!tls.client_ca.empty() && *mode == ClientAuth::kNone) {
    return "client_ca_file is set but client_auth_type is NoClientCert; for mTLS set "
           "client_auth_type: RequireAndVerifyClientCert";
  }
  if (VerifiesClientCert(*mode) && tls.client_ca.empty()) {
    return fmt::format("client_auth_type {} verifies client certificates: set client_ca_file",
                       tls.client_auth_type);
  }
  if (!tls.client_allowed_sans.empty() && !RequiresClientCert(*mode)) {
    return "client_allowed_sans needs client_auth_type RequireAnyClientCert or "
           "RequireAndVerifyClientCert";
  }
  Result<std::string> priorities = GnuTlsPriorities(tls.options);
  if (!priorities.ok()) return priorities.status().message();
  return std::nullopt;
}

const config::Schema<TlsOptions>& TlsOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<TlsOptions>("tls options");
    s->Field("min_version", &TlsOptions::min_version, "lowest TLS version: TLS10 to TLS13");
    s->Field("max_version", &TlsOptions::max_version, "highest TLS version: TLS10 to TLS13");
    s->Field("cipher_suites", &TlsOptions::cipher_suites,
             "Go names of the TLS 1.2 suites to offer (docs/security.md); TLS 1.3 suites "
             "cannot be chosen");
    s->Field("curve_preferences", &TlsOptions::curve_preferences,
             "CurveP256, CurveP384, CurveP521, X25519, in order of preference");
    s->Field("prefer_server_cipher_suites", &TlsOptions::prefer_server_cipher_suites,
             "choose the suite by the server's order rather than the client's");
    return s;
  }();
  return *schema;
}

const config::Schema<TlsSection>& TlsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<TlsSection>("tls_server_config");
    s->Secret("cert", &TlsSection::cert, "server certificate chain, PEM");
    s->Secret("key", &TlsSection::key, "its private key, PEM");
    s->Secret("client_ca", &TlsSection::client_ca, "CAs that sign client certificates, PEM");
    s->Field("client_auth_type", &TlsSection::client_auth_type,
             "NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
             "RequireAndVerifyClientCert (mTLS)")
        .DefaultText("NoClientCert");
    s->Field("client_allowed_sans", &TlsSection::client_allowed_sans,
             "a client certificate must carry one of these SANs (DNS, IP, e-mail, URI)");
    s->Embed(&TlsSection::options, TlsOptionsSchema());
    s->Check(CheckTls);
    return s;
  }();
  return *schema;
}

const config::Schema<HttpSection>& HttpSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<HttpSection>("http_server_config");
    s->Field("http2", &HttpSection::http2,
             "accepted for compatibility; no effect (the server speaks HTTP/1.1)");
    s->Field("headers", &HttpSection::headers, "headers added to every answer")
        .Validate(&HttpSection::headers, CheckHeaders);
    return s;
  }();
  return *schema;
}

const config::Schema<WebConfigFile>& WebConfigSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<WebConfigFile>("web config");
    s->Nested("tls_server_config", &WebConfigFile::tls, TlsSchema(),
              "serve HTTPS; left out: plain HTTP");
    s->Nested("http_server_config", &WebConfigFile::http, HttpSchema(), "HTTP settings");
    s->Field("basic_auth_users", &WebConfigFile::basic_auth_users,
             "user name to bcrypt hash; when set, every request needs one of them")
        .Validate(
            &WebConfigFile::basic_auth_users,
            [](const std::map<std::string, std::string>& users) -> std::optional<std::string> {
              for (const auto& [user, hash] : users) {
                if (Status s = CheckBcryptHash(hash); !s.ok()) {
                  return fmt::format("user \"{}\": {}", user, s.message());
                }
              }
              return std::nullopt;
            });
    return s;
  }();
  return *schema;
}

Result<ServerSecurity> Build(WebConfigFile file, const std::string& name) {
  ServerSecurity security;
  if (file.tls.enabled()) {
    TlsSettings tls;
    tls.cert_pem = std::move(file.tls.cert);
    tls.key_pem = std::move(file.tls.key);
    tls.client_ca_pem = std::move(file.tls.client_ca);
    tls.client_auth = *ParseClientAuth(file.tls.client_auth_type);  // checked by the schema
    tls.client_allowed_sans = std::move(file.tls.client_allowed_sans);
    tls.priorities = *GnuTlsPriorities(file.tls.options);
    if (Status s = tls.Check(); !s.ok()) {
      return Status::Error(fmt::format("{}: tls_server_config: {}", name, s.message()));
    }
    security.tls = std::make_shared<const TlsSettings>(std::move(tls));
  }
  if (!file.basic_auth_users.empty()) {
    Result<std::unique_ptr<BasicAuth>> auth = BasicAuth::Create(std::move(file.basic_auth_users));
    if (!auth.ok()) return Status::Error(fmt::format("{}: {}", name, auth.status().message()));
    security.basic_auth = std::move(auth).value();
  }
  security.headers.assign(file.http.headers.begin(), file.http.headers.end());
  return security;
}

Result<ServerSecurity> ParseDocument(const config::Document& document, const std::string& base_dir,
                                     const config::EnvLookup& env) {
  config::ParseContext ctx(document.file(), env, base_dir);
  WebConfigFile file;
  if (Status s = WebConfigSchema().Parse(document.root(), ctx, file); !s.ok()) return s;
  return Build(std::move(file), document.file());
}

}  // namespace

Result<ServerSecurity> LoadWebConfig(const std::string& path, const config::EnvLookup& env) {
  Result<config::Document> document = config::Document::Load(path);
  if (!document.ok()) return document.status();
  // Files named in it are found next to it, as the toolkit does.
  return ParseDocument(*document, std::filesystem::path(path).parent_path().string(), env);
}

Result<ServerSecurity> ParseWebConfig(const std::string& text, const std::string& name,
                                      const std::string& base_dir, const config::EnvLookup& env) {
  Result<config::Document> document = config::Document::FromString(text, name);
  if (!document.ok()) return document.status();
  return ParseDocument(*document, base_dir, env);
}

std::string DescribeWebConfig() {
  return config::RenderDescription("web config (--web.config.file)", WebConfigSchema().Describe());
}

}  // namespace sre::server
