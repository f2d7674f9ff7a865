// Fuzzes what reaches the agent's endpoint from outside its own config: the web config file
// (YAML, Go cipher and curve names, header rules, bcrypt hash format) and the Authorization
// header of every request. The input is tried as both. Files it
// names are looked up under a directory that does not exist, so nothing is read from disk; no
// bcrypt is computed (a hash of cost 31 would take days), only the hash format is checked.
// Inline PEM is left to GnuTLS's own fuzzing (OSS-Fuzz): an input holding one is not parsed as
// a web config, since GnuTLS 3.7.9 leaks the certificate it was reading when its
// subjectAltName is malformed (found here; docs/reliability.md), which would stop every run.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/server/basic_auth.h"
#include "agent/server/web_config.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  if (text.find("-----BEGIN") == std::string::npos) {
    auto security =
        sre::server::ParseWebConfig(text, "web.yml", "/nonexistent/sre-agent-fuzz", no_env);
    if (security.ok() && security->tls != nullptr) {
      Check(!security->tls->cert_pem.empty() && !security->tls->key_pem.empty());
    }
    if (!security.ok()) Check(!security.status().message().empty());
  }

  if (auto credentials = sre::server::ParseBasicAuthorization(text)) {
    Check(credentials->user.find(':') == std::string::npos);
    Check(credentials->password.find('\0') == std::string::npos);
  }
  (void)sre::server::CheckBcryptHash(text);
  return 0;
}
