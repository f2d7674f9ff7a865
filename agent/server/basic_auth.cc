#include "agent/server/basic_auth.h"

#include <crypt.h>
#include <fmt/format.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cctype>
#include <memory>

namespace sre::server {
namespace {

// Enough for a scraper, a browser and a few operators; when full, the cache starts over rather
// than tracking ages: a miss costs one bcrypt.
constexpr size_t kCacheEntries = 256;

bool EqualInConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

}  // namespace

std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  // The scheme is case-insensitive (RFC 9110 11.1); one or more spaces before the token.
  if (header.size() < 6 || header[5] != ' ') return std::nullopt;
  for (size_t i = 0; i < 5; ++i) {
    if ((header[i] | 0x20) != "basic"[i]) return std::nullopt;
  }
  std::string_view token = header.substr(6);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 4096) return std::nullopt;
  const gnutls_datum_t encoded = {reinterpret_cast<unsigned char*>(const_cast<char*>(token.data())),
                                  static_cast<unsigned>(token.size())};
  gnutls_datum_t decoded = {nullptr, 0};
  if (gnutls_base64_decode2(&encoded, &decoded) < 0) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(decoded.data), decoded.size);
  gnutls_free(decoded.data);
  const size_t colon = text.find(':');
  if (colon == std::string::npos || text.find('\0') != std::string::npos) return std::nullopt;
  return BasicCredentials{text.substr(0, colon), text.substr(colon + 1)};
}

bool CheckBcrypt(const std::string& password, const std::string& bcrypt_hash) {
  // crypt_data is 32 KiB: on the heap, not on a server thread's stack.
  auto data = std::make_unique<crypt_data>();
  const char* computed = crypt_r(password.c_str(), bcrypt_hash.c_str(), data.get());
  // libxcrypt answers a failure with a string starting with '*', never equal to a hash.
  return computed != nullptr && EqualInConstantTime(computed, bcrypt_hash);
}

Status CheckBcryptHash(std::string_view hash) {
  constexpr std::string_view kAlphabet =
      "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bool well_formed =
      hash.size() == 60 &&
      (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) &&
      std::isdigit(static_cast<unsigned char>(hash[4])) &&
      std::isdigit(static_cast<unsigned char>(hash[5])) && hash[6] == '$' &&
      hash.find_first_not_of(kAlphabet, 7) == std::string_view::npos;
  const int cost = well_formed ? (hash[4] - '0') * 10 + (hash[5] - '0') : 0;
  if (!well_formed || cost < 4 || cost > 31) {
    return Status::Error(
        "not a bcrypt hash: expected $2y$10$ and 53 characters (make one with htpasswd -nBC 10 "
        "\"\" | tr -d ':\\n')");
  }
  return Status::Ok();
}

Result<std::unique_ptr<BasicAuth>> BasicAuth::Create(std::map<std::string, std::string> users,
                                                     HashCheck check) {
  if (users.empty()) return Status::Error("basic_auth_users: no users");
  for (const auto& [user, hash] : users) {
    if (Status s = CheckBcryptHash(hash); !s.ok()) {
      return Status::Error(fmt::format("basic_auth_users: user \"{}\": {}", user, s.message()));
    }
  }
  return std::unique_ptr<BasicAuth>(new BasicAuth(std::move(users), std::move(check)));
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users, HashCheck check)
    : users_(std::move(users)), check_(std::move(check)) {}

const std::string& BasicAuth::HashFor(const std::string& user) const {
  auto it = users_.find(user);
  // An unknown user is checked against the first user's hash, with the same cost as a known one.
  return it != users_.end() ? it->second : users_.begin()->second;
}

std::string BasicAuth::CacheKey(const BasicCredentials& credentials) const {
  const std::string& hash = HashFor(credentials.user);
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
  const std::string input = fmt::format("{}:{}{}:{}{}", credentials.user.size(), credentials.user,
                                        hash, credentials.password.size(), credentials.password);
  unsigned char digest[32];
  gnutls_hash_fast(GNUTLS_DIG_SHA256, input.data(), input.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

BasicAuth::Decision BasicAuth::Lookup(const std::string* authorization) const {
  if (authorization == nullptr) return Decision::kDenied;
  std::optional<BasicCredentials> credentials = ParseBasicAuthorization(*authorization);
  if (!credentials) return Decision::kDenied;
  const std::string key = CacheKey(*credentials);
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return Decision::kNeedsVerify;
  return it->second ? Decision::kAllowed : Decision::kDenied;
}

bool BasicAuth::Verify(const std::string& authorization) {
  std::optional<BasicCredentials> credentials = ParseBasicAuthorization(authorization);
  if (!credentials) return false;
  const bool known_user = users_.count(credentials->user) != 0;
  // Always one bcrypt, known user or not.
  const bool password_ok = check_(credentials->password, HashFor(credentials->user));
  const bool allowed = known_user && password_ok;
  const std::string key = CacheKey(*credentials);
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kCacheEntries) cache_.clear();
  cache_[key] = allowed;
  return allowed;
}

}  // namespace sre::server
