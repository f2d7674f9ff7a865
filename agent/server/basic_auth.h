#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/base/status.h"

namespace sre::server {

/// A user name and password from an `Authorization: Basic ...` header.
struct BasicCredentials {
  std::string user;
  std::string password;
};

/// Decodes `Authorization: Basic base64(user:password)` (RFC 7617). nullopt for another scheme,
/// bad base64, no colon, or a NUL byte (libcrypt reads C strings: "pw\0x" would check as "pw").
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header);

/// True when `password` matches `bcrypt_hash`, by libcrypt; the comparison of the computed hash
/// takes the same time wherever the first difference is.
bool CheckBcrypt(const std::string& password, const std::string& bcrypt_hash);

/// OK for a well-formed bcrypt hash: $2a$, $2b$ or $2y$, a cost from 04 to 31, 53 characters of
/// salt and hash. Checked without computing one, which costs up to days at cost 31.
Status CheckBcryptHash(std::string_view hash);

/// HTTP basic authentication against bcrypt hashes, as the exporter toolkit's `basic_auth_users`.
///
/// Checking a password with bcrypt costs tens of milliseconds by design, so results are cached
/// by a SHA-256 of (user, hash, password), successes and failures alike (the toolkit does the
/// same): a scraper with the right password pays once, and a client repeating a wrong one costs
/// a lookup. An unknown user is checked against a real hash of the same file, so a wrong user
/// takes as long as a wrong password and user names cannot be probed by timing.
///
/// Thread-safe: `Lookup` and `Verify` may run concurrently on any threads.
class BasicAuth {
 public:
  /// Checks a password against a bcrypt hash: CheckBcrypt, or a stand-in in tests.
  using HashCheck = std::function<bool(const std::string& password, const std::string& hash)>;

  /// `users` maps user names to bcrypt hashes ($2a$, $2b$ or $2y$). Fails on an empty map or a
  /// malformed hash, naming the user.
  static Result<std::unique_ptr<BasicAuth>> Create(std::map<std::string, std::string> users,
                                                   HashCheck check = CheckBcrypt);

  enum class Decision { kAllowed, kDenied, kNeedsVerify };

  /// Fast: kDenied for a missing or malformed header, the cached answer when there is one,
  /// kNeedsVerify otherwise.
  Decision Lookup(const std::string* authorization) const;
  /// Slow (one bcrypt): checks the credentials of a header `Lookup` could not decide, and caches
  /// the answer.
  bool Verify(const std::string& authorization);

 private:
  BasicAuth(std::map<std::string, std::string> users, HashCheck check);
  /// The cache key of these credentials: SHA-256 over user, hash and password, so the cache
  /// never holds a password.
  std::string CacheKey(const BasicCredentials& credentials) const;
  const std::string& HashFor(const std::string& user) const;

  const std::map<std::string, std::string> users_;
  const HashCheck check_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, bool> cache_;  // guarded by mutex_
};

}  // namespace sre::server
