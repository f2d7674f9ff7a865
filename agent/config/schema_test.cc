#include "agent/config/schema.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sre::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Common {
  std::string check;
  Duration interval{0};
};

struct Tls {
  std::string ca_file;
  bool insecure = false;
};

struct Endpoint {
  std::string url;
  int64_t weight = 1;
};

struct Probe {
  Common common;
  std::string name = "probe";
  bool enabled = true;
  int64_t port = 80;
  double ratio = 0.5;
  Duration timeout = seconds(5);
  std::vector<std::string> tags;
  std::vector<int64_t> codes = {200, 204};
  std::map<std::string, std::string> labels;
  std::string password;
  Tls tls;
  std::vector<Endpoint> endpoints;
};

const Schema<Common>& CommonSchema() {
  static const auto* schema = [] {
    auto* s = new Schema<Common>("common");
    s->Field("check", &Common::check, "name of the check").Required();
    s->Validate(&Common::check, [](const std::string& v) -> std::optional<std::string> {
      if (v.empty()) return "check name must not be empty";
      return std::nullopt;
    });
    s->Field("interval", &Common::interval, "how often to run");
    return s;
  }();
  return *schema;
}

const Schema<Tls>& TlsSchema() {
  static const auto* schema = [] {
    auto* s = new Schema<Tls>("tls options");
    s->Field("ca_file", &Tls::ca_file, "CA bundle").Required();
    s->Field("insecure", &Tls::insecure, "skip verification");
    return s;
  }();
  return *schema;
}

const Schema<Endpoint>& EndpointSchema() {
  static const auto* schema = [] {
    auto* s = new Schema<Endpoint>("endpoint");
    s->Field("url", &Endpoint::url, "where to connect").Required();
    s->Field("weight", &Endpoint::weight, "share of the traffic");
    return s;
  }();
  return *schema;
}

const Schema<Probe>& ProbeSchema() {
  static const auto* schema = [] {
    auto* s = new Schema<Probe>("probe");
    s->Embed(&Probe::common, CommonSchema());
    s->Field("name", &Probe::name, "display name");
    s->Field("enabled", &Probe::enabled, "whether to run");
    s->Field("port", &Probe::port, "TCP port");
    s->Validate(&Probe::port, [](const int64_t& port) -> std::optional<std::string> {
      if (port < 1 || port > 65535) return "port must be between 1 and 65535";
      return std::nullopt;
    });
    s->Field("ratio", &Probe::ratio, "sampling ratio");
    s->Field("timeout", &Probe::timeout, "deadline of one run");
    s->Field("tags", &Probe::tags, "free-form tags");
    s->Field("codes", &Probe::codes, "expected status codes");
    s->Field("labels", &Probe::labels, "extra labels");
    s->Secret("password", &Probe::password, "login password");
    s->Validate(&Probe::password, [](const std::string& v) -> std::optional<std::string> {
      if (v.find(' ') != std::string::npos) return "password must not contain spaces";
      return std::nullopt;
    });
    s->Nested("tls", &Probe::tls, TlsSchema(), "TLS settings");
    s->List("endpoints", &Probe::endpoints, EndpointSchema(), "where to send probes");
    s->Check([](const Probe& p) -> std::optional<std::string> {
      if (p.common.interval != Duration(0) && p.timeout >= p.common.interval) {
        return "timeout must be below interval";
      }
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

constexpr const char* kValidKeys =
    "check, interval, name, enabled, port, ratio, timeout, tags, codes, labels, password, "
    "password_file, tls, endpoints";

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "sre-schema-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    std::ofstream(dir_ + "/password") << "from-file\n";
    std::ofstream(dir_ + "/spaced") << "has space\n";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Parses `yaml` as probe.yaml; the status, with `probe_` filled on success.
  Status Parse(const std::string& yaml) {
    Result<Document> doc = Document::FromString(yaml, "probe.yaml");
    if (!doc.ok()) return doc.status();
    ParseContext ctx("probe.yaml", env_, dir_);
    return ProbeSchema().Parse(doc->root(), ctx, probe_);
  }

  std::string Error(const std::string& yaml) {
    Status s = Parse(yaml);
    EXPECT_FALSE(s.ok()) << yaml;
    return s.message();
  }

  EnvLookup env_ = [](const std::string& name) -> std::optional<std::string> {
    if (name == "PORT") return "8443";
    if (name == "SPEED") return "fast";
    return std::nullopt;
  };
  std::string dir_;
  Probe probe_;
};

TEST_F(SchemaTest, ParsesEveryKind) {
  Status s = Parse(R"(
check: web
interval: 1m
name: front page
enabled: false
port: ${PORT}
ratio: 0.25
timeout: 1.5s
tags: [a, "b c"]
codes:
  - 200
  - 301
labels: {team: web, tier: "1"}
password: hunter2
tls:
  ca_file: /etc/ca.pem
  insecure: true
endpoints:
  - url: http://a
  - url: http://b
    weight: 3
)");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(probe_.common.check, "web");
  EXPECT_EQ(probe_.common.interval, seconds(60));
  EXPECT_EQ(probe_.name, "front page");
  EXPECT_FALSE(probe_.enabled);
  EXPECT_EQ(probe_.port, 8443);
  EXPECT_EQ(probe_.ratio, 0.25);
  EXPECT_EQ(probe_.timeout, milliseconds(1500));
  EXPECT_EQ(probe_.tags, (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(probe_.codes, (std::vector<int64_t>{200, 301}));
  EXPECT_EQ(probe_.labels, (std::map<std::string, std::string>{{"team", "web"}, {"tier", "1"}}));
  EXPECT_EQ(probe_.password, "hunter2");
  EXPECT_EQ(probe_.tls.ca_file, "/etc/ca.pem");
  EXPECT_TRUE(probe_.tls.insecure);
  ASSERT_EQ(probe_.endpoints.size(), 2u);
  EXPECT_EQ(probe_.endpoints[0].url, "http://a");
  EXPECT_EQ(probe_.endpoints[0].weight, 1);
  EXPECT_EQ(probe_.endpoints[1].url, "http://b");
  EXPECT_EQ(probe_.endpoints[1].weight, 3);
}

TEST_F(SchemaTest, AbsentKeysKeepTheirDefaults) {
  probe_.port = 1;  // Parse starts from Probe{}, whatever `out` held
  ASSERT_TRUE(Parse("check: web\n").ok());
  EXPECT_EQ(probe_.common.check, "web");
  EXPECT_EQ(probe_.common.interval, Duration(0));
  EXPECT_EQ(probe_.name, "probe");
  EXPECT_TRUE(probe_.enabled);
  EXPECT_EQ(probe_.port, 80);
  EXPECT_EQ(probe_.ratio, 0.5);
  EXPECT_EQ(probe_.timeout, seconds(5));
  EXPECT_TRUE(probe_.tags.empty());
  EXPECT_EQ(probe_.codes, (std::vector<int64_t>{200, 204}));
  EXPECT_TRUE(probe_.labels.empty());
  EXPECT_EQ(probe_.password, "");
  EXPECT_EQ(probe_.tls.ca_file, "");
  EXPECT_TRUE(probe_.endpoints.empty());
}

TEST_F(SchemaTest, EmptyListsAndMapsMayBeNull) {
  probe_.endpoints.resize(1);
  ASSERT_TRUE(Parse("check: web\ntags:\ncodes: ~\nlabels:\nendpoints:\n").ok());
  EXPECT_TRUE(probe_.endpoints.empty());
  EXPECT_TRUE(probe_.tags.empty());
  EXPECT_TRUE(probe_.codes.empty());
  EXPECT_TRUE(probe_.labels.empty());
}

TEST_F(SchemaTest, ScalarsAcceptTheirYamlForms) {
  ASSERT_TRUE(Parse("check: '7'\nenabled: True\nport: +443\nratio: 1e-3\ntimeout: '0'\n").ok());
  EXPECT_EQ(probe_.common.check, "7");
  EXPECT_TRUE(probe_.enabled);
  EXPECT_EQ(probe_.port, 443);
  EXPECT_EQ(probe_.ratio, 0.001);
  EXPECT_EQ(probe_.timeout, Duration(0));
  ASSERT_TRUE(Parse("check: x\nenabled: FALSE\nratio: -2\n").ok());
  EXPECT_FALSE(probe_.enabled);
  EXPECT_EQ(probe_.ratio, -2);
}

TEST_F(SchemaTest, ReadsSecretsFromFiles) {
  ASSERT_TRUE(Parse("check: web\npassword_file: password\n").ok());
  EXPECT_EQ(probe_.password, "from-file");
  EXPECT_EQ(Error("check: web\npassword_file: missing\n"),
            "probe.yaml:2:16: cannot read secret file \"" + dir_ +
                "/missing\": No such file or directory");
  // Validate covers the file's content too.
  EXPECT_EQ(Error("check: web\npassword_file: spaced\n"),
            "probe.yaml:2:16: password must not contain spaces");
  EXPECT_EQ(Error("check: web\npassword: a b\n"),
            "probe.yaml:2:11: password must not contain spaces");
  // Conflict reported first, even when the file cannot be read.
  EXPECT_EQ(Error("check: web\npassword: x\npassword_file: missing\n"),
            "probe.yaml:3:1: 'password' and 'password_file' both given");
  EXPECT_EQ(Error("check: web\npassword_file: password\npassword: x\n"),
            "probe.yaml:3:1: 'password' and 'password_file' both given");
}

TEST_F(SchemaTest, FilePathsResolveNextToTheConfigAndMustBeReadable) {
  struct WithFile {
    FilePath ca;
  };
  Schema<WithFile> schema("with file");
  schema.Field("ca", &WithFile::ca, "a CA bundle");
  ParseContext ctx("probe.yaml", env_, dir_);
  WithFile out;
  auto parse = [&](const std::string& yaml) {
    return schema.Parse(Document::FromString(yaml, "probe.yaml")->root(), ctx, out);
  };
  ASSERT_TRUE(parse("ca: password\n").ok());
  EXPECT_EQ(out.ca.path, dir_ + "/password");
  ASSERT_TRUE(parse("ca: " + dir_ + "/spaced\n").ok());
  EXPECT_EQ(out.ca.path, dir_ + "/spaced");
  ASSERT_TRUE(parse("ca: \"\"\n").ok());
  EXPECT_EQ(out.ca.path, "");
  EXPECT_EQ(parse("ca: missing.pem\n").message(),
            "probe.yaml:1:5: cannot read \"" + dir_ + "/missing.pem\": No such file or directory");
}

TEST_F(SchemaTest, UnknownKeysListTheValidOnes) {
  EXPECT_EQ(Error("check: web\ntimout: 5s\n"),
            std::string("probe.yaml:2:1: unknown key \"timout\"; valid keys: ") + kValidKeys);
  EXPECT_EQ(Error("check: web\ntls:\n  ca_file: x\n  verify: no\n"),
            "probe.yaml:4:3: unknown key \"verify\"; valid keys: ca_file, insecure");
  EXPECT_EQ(Error("check: web\nendpoints:\n  - url: a\n  - {url: b, wieght: 2}\n"),
            "probe.yaml:4:14: unknown key \"wieght\"; valid keys: url, weight");
}

TEST_F(SchemaTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(Error("check: web\nport: 1\nname: x\nport: 2\n"),
            "probe.yaml:4:1: duplicate key \"port\" (first at line 2)");
  EXPECT_EQ(Error("check: web\ntls: {ca_file: a, ca_file: b}\n"),
            "probe.yaml:2:19: duplicate key \"ca_file\" (first at line 2)");
  EXPECT_EQ(Error("check: web\nlabels:\n  team: a\n  team: b\n"),
            "probe.yaml:4:3: duplicate key \"team\" (first at line 3)");
  // Quoting does not make a key different.
  EXPECT_EQ(Error("check: web\n\"check\": web\n"),
            "probe.yaml:2:1: duplicate key \"check\" (first at line 1)");
}

TEST_F(SchemaTest, WrongTypesSayWhatWasExpectedAndFound) {
  EXPECT_EQ(Error("check: [a]\n"), "probe.yaml:1:8: expected a string, got a list");
  EXPECT_EQ(Error("check: {a: b}\n"), "probe.yaml:1:8: expected a string, got a map");
  EXPECT_EQ(Error("check:\n"), "probe.yaml:1:1: expected a string, got null");
  EXPECT_EQ(Error("check: ~\n"), "probe.yaml:1:1: expected a string, got null");
  EXPECT_EQ(Error("check: x\nport:\nname: y\n"), "probe.yaml:2:1: expected an integer, got null");
  EXPECT_EQ(Error("check: x\nlabels:\n  team:\nname: y\n"),
            "probe.yaml:3:3: expected a string, got null");
  EXPECT_EQ(Error("check: x\nenabled: yes\n"),
            "probe.yaml:2:10: expected true or false, got \"yes\"");
  EXPECT_EQ(Error("check: x\nenabled: [true]\n"),
            "probe.yaml:2:10: expected true or false, got a list");
  EXPECT_EQ(Error("check: x\nport: 80x\n"), "probe.yaml:2:7: expected an integer, got \"80x\"");
  EXPECT_EQ(Error("check: x\nport: 1.5\n"), "probe.yaml:2:7: expected an integer, got \"1.5\"");
  EXPECT_EQ(Error("check: x\nport: ''\n"), "probe.yaml:2:7: expected an integer, got \"\"");
  EXPECT_EQ(Error("check: x\nport: 99999999999999999999\n"),
            "probe.yaml:2:7: expected an integer between -9223372036854775808 and "
            "9223372036854775807, got \"99999999999999999999\"");
  EXPECT_EQ(Error("check: x\nport: 0\n"), "probe.yaml:2:7: port must be between 1 and 65535");
  EXPECT_EQ(Error("check: x\nratio: half\n"), "probe.yaml:2:8: expected a number, got \"half\"");
  EXPECT_EQ(Error("check: x\nratio: .inf\n"), "probe.yaml:2:8: expected a number, got \".inf\"");
  EXPECT_EQ(Error("check: x\nratio: nan\n"), "probe.yaml:2:8: expected a number, got \"nan\"");
  EXPECT_EQ(Error("check: x\nratio: 1e999\n"), "probe.yaml:2:8: expected a number, got \"1e999\"");
  EXPECT_EQ(Error("check: x\ntimeout: fast\n"),
            "probe.yaml:2:10: expected a duration like 250ms or 15s, got \"fast\"");
  EXPECT_EQ(Error("check: x\ntimeout: ${SPEED}\n"),
            "probe.yaml:2:10: expected a duration like 250ms or 15s, got \"fast\"");
  EXPECT_EQ(Error("check: x\ntimeout: 15\n"),
            "probe.yaml:2:10: invalid duration \"15\": missing unit after the number; valid "
            "units: ns, us, ms, s, m, h, d");
  EXPECT_EQ(Error("check: x\ntimeout: -1s\n"),
            "probe.yaml:2:10: invalid duration \"-1s\": must not be negative");
  EXPECT_EQ(Error("check: x\ntimeout: {a: 1}\n"),
            "probe.yaml:2:10: expected a duration like 250ms or 15s, got a map");
  EXPECT_EQ(Error("check: x\ntags: a, b\n"),
            "probe.yaml:2:7: expected a list of string, got \"a, b\"");
  EXPECT_EQ(Error("check: x\ntags: [a, [b]]\n"), "probe.yaml:2:11: expected a string, got a list");
  EXPECT_EQ(Error("check: x\ncodes: [200, ok]\n"),
            "probe.yaml:2:14: expected an integer, got \"ok\"");
  EXPECT_EQ(Error("check: x\ncodes: {a: 1}\n"),
            "probe.yaml:2:8: expected a list of integer, got a map");
  EXPECT_EQ(Error("check: x\nlabels: [a]\n"),
            "probe.yaml:2:9: expected a map of string to string, got a list");
  EXPECT_EQ(Error("check: x\nlabels: {a: [b]}\n"),
            "probe.yaml:2:13: expected a string, got a list");
  EXPECT_EQ(Error("check: x\nlabels: {[a]: b}\n"),
            "probe.yaml:2:10: expected a string key, got a list");
  EXPECT_EQ(Error("check: x\npassword: [a]\n"), "probe.yaml:2:11: expected a string, got a list");
  EXPECT_EQ(Error("check: x\ntls: true\n"),
            "probe.yaml:2:6: expected a mapping with keys: ca_file, insecure; got \"true\"");
  EXPECT_EQ(Error("check: x\nendpoints: {url: a}\n"),
            "probe.yaml:2:12: expected a list of endpoint");
  EXPECT_EQ(Error("check: x\nendpoints: [a]\n"),
            "probe.yaml:2:13: expected a mapping with keys: url, weight; got \"a\"");
  EXPECT_EQ(Error("- check: x\n"), std::string("probe.yaml:1:1: expected a mapping with keys: ") +
                                       kValidKeys + "; got a list");
  EXPECT_EQ(Error("check: x\n[a]: b\n"), "probe.yaml:2:1: expected a string key, got a list");
  EXPECT_EQ(Error("check: x\n~: b\n"), "probe.yaml:2:1: expected a string key, got null");
}

TEST_F(SchemaTest, ErrorsQuoteAndCutWhatWasFound) {
  EXPECT_EQ(Error("check: x\nenabled: \"a\\\"b\\n\\tc\"\n"),
            "probe.yaml:2:10: expected true or false, got \"a\\\"b\\n\\x09c\"");
  EXPECT_EQ(Error("check: x\nport: " + std::string(100, '7') + "x\n"),
            "probe.yaml:2:7: expected an integer, got \"" + std::string(64, '7') + "...\"");
}

TEST_F(SchemaTest, EnvironmentErrorsPointAtTheValue) {
  EXPECT_EQ(Error("check: x\nname: ${NOPE}\n"),
            "probe.yaml:2:7: environment variable NOPE is not set (use ${NOPE:-default} for a "
            "default)");
  EXPECT_EQ(Error("check: x\nport: ${NOPE}\n"),
            "probe.yaml:2:7: environment variable NOPE is not set (use ${NOPE:-default} for a "
            "default)");
}

TEST_F(SchemaTest, MissingRequiredKeys) {
  EXPECT_EQ(Error("name: x\n"), "probe.yaml:1:1: missing required key 'check' (name of the check)");
  EXPECT_EQ(Error("\n\n  name: x\n"),
            "probe.yaml:3:3: missing required key 'check' (name of the check)");
  // A document without a mapping has no position to point at.
  EXPECT_EQ(Error(""), "probe.yaml: missing required key 'check' (name of the check)");
  EXPECT_EQ(Error("check: x\ntls: {insecure: true}\n"),
            "probe.yaml:2:6: missing required key 'ca_file' (CA bundle)");
  EXPECT_EQ(Error("check: x\ntls:\n"),
            "probe.yaml:2:1: missing required key 'ca_file' (CA bundle)");
  EXPECT_EQ(Error("check: x\nendpoints:\n  - weight: 2\n"),
            "probe.yaml:3:5: missing required key 'url' (where to connect)");
}

TEST_F(SchemaTest, ValidateAndCheck) {
  EXPECT_EQ(Error("check: ''\n"), "probe.yaml:1:8: check name must not be empty");
  EXPECT_EQ(Error("check: x\ninterval: 10s\ntimeout: 10s\n"),
            "probe.yaml:1:1: timeout must be below interval");
  EXPECT_TRUE(Parse("check: x\ninterval: 10s\ntimeout: 9s\n").ok());
}

TEST_F(SchemaTest, DescribeListsEveryKey) {
  std::vector<FieldDoc> docs = ProbeSchema().Describe();
  ASSERT_EQ(docs.size(), 13u);
  EXPECT_EQ(docs[0].key, "check");
  EXPECT_TRUE(docs[0].required);
  EXPECT_EQ(docs[0].default_value, "");
  EXPECT_EQ(docs[3].key, "enabled");
  EXPECT_EQ(docs[3].type, "bool");
  EXPECT_EQ(docs[3].default_value, "true");
  EXPECT_EQ(docs[10].type, "secret (or password_file: path)");
  EXPECT_EQ(docs[10].default_value, "");
  EXPECT_EQ(docs[11].type, "tls options");
  ASSERT_EQ(docs[11].children.size(), 2u);
  EXPECT_EQ(docs[12].type, "list of endpoint");
  ASSERT_EQ(docs[12].children.size(), 2u);
}

TEST_F(SchemaTest, RenderDescription) {
  EXPECT_EQ(RenderDescription("probe", ProbeSchema().Describe()),
            R"(probe:
  check: string, required
      name of the check
  interval: duration, default 0s
      how often to run
  name: string, default "probe"
      display name
  enabled: bool, default true
      whether to run
  port: integer, default 80
      TCP port
  ratio: number, default 0.5
      sampling ratio
  timeout: duration, default 5s
      deadline of one run
  tags: list of string
      free-form tags
  codes: list of integer, default [200, 204]
      expected status codes
  labels: map of string to string
      extra labels
  password: secret (or password_file: path)
      login password
  tls: tls options
      TLS settings
    ca_file: string, required
        CA bundle
    insecure: bool, default false
        skip verification
  endpoints: list of endpoint
      where to send probes
    url: string, required
        where to connect
    weight: integer, default 1
        share of the traffic
)");
}

TEST(RenderDescriptionTest, HandlesNoTitleAndMultiLineDocs) {
  FieldDoc field;
  field.key = "a";
  field.type = "string";
  field.doc = "first line\nsecond line";
  EXPECT_EQ(RenderDescription("", {field}), "a: string\n    first line\n    second line\n");
  EXPECT_EQ(RenderDescription("t", {}), "t:\n");
}

}  // namespace
}  // namespace sre::config
