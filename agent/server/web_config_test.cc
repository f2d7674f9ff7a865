#include "agent/server/web_config.h"

#include <gmock/gmock.h>
#include <gnutls/gnutls.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/server/basic_auth.h"
#include "agent/server/tls_settings.h"

namespace sre::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// bcrypt hashes (cost 4) of "right" and "other", made by libcrypt.
constexpr char kHash[] = "$2b$04$7A0QZgRDiG3WjCeFelWuIOuvtHfP0OGyEvMsSuCefheIrwNG0I3zu";
constexpr char kOtherHash[] = "$2b$04$/p2mQFXKGAjeZipY2WozGuyR9o0jTZ5edUsTb8GL9LYwvMn3oaTpe";

std::string Basic(const std::string& user_and_password) {
  const gnutls_datum_t in = {
      reinterpret_cast<unsigned char*>(const_cast<char*>(user_and_password.data())),
      static_cast<unsigned>(user_and_password.size())};
  gnutls_datum_t out = {nullptr, 0};
  if (gnutls_base64_encode2(&in, &out) < 0) return "";
  std::string header = "Basic " + std::string(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  return header;
}

std::string SourceDir() {
  const char* dir = std::getenv("SRE_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

Result<ServerSecurity> Parse(const std::string& yaml) {
  return ParseWebConfig(yaml, "web.yml", SourceDir() + "/agent/server/testdata",
                        [](const std::string&) { return std::nullopt; });
}

std::string ErrorOf(const std::string& yaml) {
  Result<ServerSecurity> result = Parse(yaml);
  return result.ok() ? "(accepted)" : result.status().message();
}

TEST(ParseBasicAuthorizationTest, DecodesUserAndPassword) {
  auto credentials = ParseBasicAuthorization(Basic("prometheus:pass:with:colons"));
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->user, "prometheus");
  EXPECT_EQ(credentials->password, "pass:with:colons");
  EXPECT_TRUE(ParseBasicAuthorization("bAsIc   " + Basic("a:b").substr(6)));  // case, spaces
  EXPECT_EQ(ParseBasicAuthorization(Basic(":")).value().user, "");
}

TEST(ParseBasicAuthorizationTest, RefusesWhatIsNotBasicCredentials) {
  for (const std::string& header :
       {std::string(""), std::string("Bearer abc"), std::string("Basic"), std::string("Basic "),
        std::string("Basic !!!!"), Basic("no-colon"), Basic(std::string("a:b\0c", 5)),
        std::string("Basicx") + Basic("a:b").substr(6)}) {
    EXPECT_FALSE(ParseBasicAuthorization(header)) << header;
  }
}

TEST(CheckBcryptHashTest, AcceptsOnlyWellFormedHashes) {
  EXPECT_TRUE(CheckBcryptHash(kHash).ok());
  EXPECT_TRUE(CheckBcryptHash(kOtherHash).ok());
  for (std::string hash :
       {std::string("secret"), std::string(kHash).substr(0, 59),
        "$1$" + std::string(kHash).substr(3), "$2b$03" + std::string(kHash).substr(6),
        "$2b$32" + std::string(kHash).substr(6), std::string(kHash).replace(20, 1, "!")}) {
    EXPECT_FALSE(CheckBcryptHash(hash).ok()) << hash;
  }
}

TEST(CheckBcryptTest, ChecksWithLibcrypt) {
  EXPECT_TRUE(CheckBcrypt("right", kHash));
  EXPECT_FALSE(CheckBcrypt("Right", kHash));
  EXPECT_FALSE(CheckBcrypt("right", kOtherHash));
  EXPECT_TRUE(CheckBcrypt("other", kOtherHash));
}

/// A hash check that records what it was asked, standing in for bcrypt.
struct RecordingCheck {
  std::shared_ptr<std::vector<std::pair<std::string, std::string>>> calls =
      std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  BasicAuth::HashCheck Function() const {
    return [calls = calls](const std::string& password, const std::string& hash) {
      calls->emplace_back(password, hash);
      return password == "right" && hash == kHash;
    };
  }
};

TEST(BasicAuthTest, AnUnknownUserCostsOneHashCheckLikeAWrongPassword) {
  RecordingCheck check;
  auto auth = BasicAuth::Create({{"alice", kHash}, {"bob", kOtherHash}}, check.Function());
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE((*auth)->Verify(Basic("mallory:right")));
  EXPECT_FALSE((*auth)->Verify(Basic("alice:wrong")));
  ASSERT_EQ(check.calls->size(), 2u);
  // The unknown user was checked against a real hash of the file, not skipped.
  EXPECT_EQ((*check.calls)[0], std::make_pair(std::string("right"), std::string(kHash)));
  EXPECT_EQ((*check.calls)[1], std::make_pair(std::string("wrong"), std::string(kHash)));
}

TEST(BasicAuthTest, CachesAnswersSoARepeatedRequestCostsNoHashCheck) {
  RecordingCheck check;
  auto auth = BasicAuth::Create({{"alice", kHash}}, check.Function());
  ASSERT_TRUE(auth.ok());
  const std::string right = Basic("alice:right");
  const std::string wrong = Basic("alice:wrong");
  EXPECT_EQ((*auth)->Lookup(&right), BasicAuth::Decision::kNeedsVerify);
  EXPECT_EQ((*auth)->Lookup(nullptr), BasicAuth::Decision::kDenied);
  const std::string bearer = "Bearer x";
  EXPECT_EQ((*auth)->Lookup(&bearer), BasicAuth::Decision::kDenied);
  EXPECT_TRUE((*auth)->Verify(right));
  EXPECT_FALSE((*auth)->Verify(wrong));
  EXPECT_EQ((*auth)->Lookup(&right), BasicAuth::Decision::kAllowed);
  EXPECT_EQ((*auth)->Lookup(&wrong), BasicAuth::Decision::kDenied);
  EXPECT_EQ(check.calls->size(), 2u);
}

TEST(BasicAuthTest, LookupsAndChecksFromManyThreads) {
  auto auth = BasicAuth::Create(
      {{"alice", kHash}}, [](const std::string& p, const std::string&) { return p == "right"; });
  ASSERT_TRUE(auth.ok());
  std::atomic<int> allowed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        // Distinct wrong passwords fill the cache past its size, so it is cleared meanwhile.
        const std::string header =
            Basic(i % 2 ? "alice:right" : "alice:w" + std::to_string(t * 1000 + i));
        if ((*auth)->Lookup(&header) == BasicAuth::Decision::kAllowed || (*auth)->Verify(header)) {
          ++allowed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed, 4 * 150);
}

TEST(GnuTlsPrioritiesTest, MapsVersionsSuitesAndCurves) {
  EXPECT_EQ(GnuTlsPriorities({}).value(),
            "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:%SERVER_PRECEDENCE");
  TlsOptions options;
  options.max_version = "TLS12";
  options.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                           "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
  options.curve_preferences = {"X25519", "CurveP256"};
  options.prefer_server_cipher_suites = false;
  EXPECT_EQ(GnuTlsPriorities(options).value(),
            "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:-CIPHER-ALL:-MAC-ALL:+ECDHE-RSA:+ECDHE-ECDSA:"
            "+AES-128-GCM:+AEAD:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1");
  // With TLS 1.3 allowed, its own ciphers stay on.
  options.max_version = "TLS13";
  EXPECT_THAT(GnuTlsPriorities(options).value(),
              HasSubstr("+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD"));
}

TEST(GnuTlsPrioritiesTest, NamesWhatIsUnknown) {
  TlsOptions options;
  options.min_version = "TLS14";
  EXPECT_THAT(GnuTlsPriorities(options).status().message(), HasSubstr("\"TLS14\""));
  options = {};
  options.min_version = "TLS13";
  options.max_version = "TLS12";
  EXPECT_THAT(GnuTlsPriorities(options).status().message(), HasSubstr("above max_version"));
  options = {};
  options.cipher_suites = {"TLS_RSA_WITH_RC4_128_SHA"};  // insecure: Go's list leaves it out
  EXPECT_THAT(GnuTlsPriorities(options).status().message(),
              HasSubstr("unknown cipher \"TLS_RSA_WITH_RC4_128_SHA\""));
  options = {};
  options.cipher_suites = {"TLS_AES_128_GCM_SHA256"};
  EXPECT_THAT(GnuTlsPriorities(options).status().message(), HasSubstr("only TLS 1.3 suites"));
  options = {};
  options.curve_preferences = {"CurveP224"};
  EXPECT_THAT(GnuTlsPriorities(options).status().message(), HasSubstr("unknown curve"));
}

TEST(CertificateSansTest, ReadsEveryKindAsGoPrintsIt) {
  std::ifstream file(SourceDir() + "/agent/server/testdata/server.pem");
  std::stringstream pem;
  pem << file.rdbuf();
  const std::string text = pem.str();
  // PEM to DER: the base64 between the armour lines.
  std::string base64;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("-----")) base64 += line;
  }
  gnutls_datum_t in = {reinterpret_cast<unsigned char*>(base64.data()),
                       static_cast<unsigned>(base64.size())};
  gnutls_datum_t der = {nullptr, 0};
  ASSERT_GE(gnutls_base64_decode2(&in, &der), 0);
  std::vector<std::string> sans =
      CertificateSans({reinterpret_cast<const char*>(der.data), der.size});
  gnutls_free(der.data);
  EXPECT_THAT(sans, ::testing::UnorderedElementsAre("localhost", "127.0.0.1", "::1",
                                                    "ops@example.com", "spiffe://example/agent"));
  EXPECT_TRUE(CertificateSans("not a certificate").empty());
}

TEST(WebConfigTest, AnEmptyFileIsPlainHttpWithoutAuthentication) {
  Result<ServerSecurity> security = Parse("");
  ASSERT_TRUE(security.ok()) << security.status().message();
  EXPECT_EQ(security->tls, nullptr);
  EXPECT_EQ(security->basic_auth, nullptr);
  EXPECT_TRUE(security->headers.empty());
}

TEST(WebConfigTest, ReadsTlsAuthAndHeaders) {
  Result<ServerSecurity> security = Parse(std::string(R"(
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_ca_file: server.pem
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [prometheus.example]
  min_version: TLS13
http_server_config:
  http2: false
  headers:
    X-Frame-Options: DENY
    Content-Security-Policy: default-src 'self'
basic_auth_users:
  alice: ')") + kHash + "'\n");
  ASSERT_TRUE(security.ok()) << security.status().message();
  ASSERT_NE(security->tls, nullptr);
  EXPECT_THAT(security->tls->cert_pem, StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(security->tls->key_pem, HasSubstr("PRIVATE KEY"));
  EXPECT_EQ(security->tls->client_ca_pem, security->tls->cert_pem);
  EXPECT_EQ(security->tls->client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(security->tls->client_allowed_sans, std::vector<std::string>{"prometheus.example"});
  EXPECT_EQ(security->tls->priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.3:%SERVER_PRECEDENCE");
  ASSERT_NE(security->basic_auth, nullptr);
  EXPECT_EQ(security->headers.size(), 2u);
}

TEST(WebConfigTest, EveryMistakeIsNamedAtItsPlace) {
  const std::string tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
  const std::pair<std::string, std::string> cases[] = {
      {"tls_server_config:\n  cert_fil: server.pem\n", "web.yml:2:3: unknown key \"cert_fil\""},
      {"rate_limit:\n  burst: 1\n", "web.yml:1:1: unknown key \"rate_limit\""},
      {"tls_server_config:\n  cert_file: server.pem\n",
       "web.yml:2:3: TLS needs a private key: set key_file (or key)"},
      {"tls_server_config:\n  key_file: server.key\n", "web.yml:2:3: TLS needs a certificate"},
      {"tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server.key\n",
       "web.yml:2:14: cannot read secret file"},
      {tls + "  client_auth_type: RequireClientCertPlease\n",
       "unknown client_auth_type \"RequireClientCertPlease\""},
      {tls + "  client_ca_file: server.pem\n", "client_auth_type is NoClientCert"},
      {tls + "  client_auth_type: VerifyClientCertIfGiven\n", "set client_ca_file"},
      {tls + "  client_auth_type: RequestClientCert\n  client_allowed_sans: [a]\n",
       "client_allowed_sans needs client_auth_type"},
      {tls + "  max_version: TLS9\n", "unknown TLS version \"TLS9\""},
      {"http_server_config:\n  headers:\n    Server: sre\n",
       "web.yml:3:5: header \"Server\" cannot be set"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       "\"allow\" is not allowed; expected deny or sameorigin"},
      {"basic_auth_users:\n  alice: secret\n", "web.yml:2:3: user \"alice\": not a bcrypt hash"},
      {"tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n",
       "web.yml: tls_server_config: cannot use the certificate and key"},
      {"tls_server_config: [1, 2]\n", "web.yml:1:20: expected a mapping"},
  };
  for (const auto& [yaml, error] : cases) {
    EXPECT_THAT(ErrorOf(yaml), HasSubstr(error)) << yaml;
  }
}

TEST(WebConfigTest, AMissingFileIsNamed) {
  Result<ServerSecurity> missing = LoadWebConfig(SourceDir() + "/agent/server/testdata/none.yml");
  EXPECT_THAT(missing.status().message(), HasSubstr("none.yml"));
}

}  // namespace
}  // namespace sre::server
