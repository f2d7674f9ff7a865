#include "agent/config/source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace sre::config {
namespace {

/// An environment of its own, so tests do not depend on (or change) the process's.
EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const EnvLookup kEnv =
    FakeEnv({{"HOST", "db.example"}, {"PORT", "5432"}, {"EMPTY", ""}, {"DOLLAR", "${HOST}"}});

std::string Expand(std::string_view text) {
  Result<std::string> r = ExpandEnv(text, kEnv);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : "<error>";
}

std::string ExpandError(std::string_view text) {
  Result<std::string> r = ExpandEnv(text, kEnv);
  EXPECT_FALSE(r.ok()) << text << " expanded to " << (r.ok() ? *r : "");
  return r.status().message();
}

TEST(ExpandEnvTest, ExpandsVariablesAndDefaults) {
  EXPECT_EQ(Expand("plain text"), "plain text");
  EXPECT_EQ(Expand(""), "");
  EXPECT_EQ(Expand("${HOST}"), "db.example");
  EXPECT_EQ(Expand("${HOST}:${PORT}"), "db.example:5432");
  EXPECT_EQ(Expand("tcp://${HOST}:${PORT}/x"), "tcp://db.example:5432/x");
  EXPECT_EQ(Expand("${MISSING:-fallback}"), "fallback");
  EXPECT_EQ(Expand("${MISSING:-}"), "");
  EXPECT_EQ(Expand("${MISSING:-a:b-c $x}"), "a:b-c $x");
  EXPECT_EQ(Expand("${HOST:-fallback}"), "db.example");
  EXPECT_EQ(Expand("${EMPTY}"), "");
  EXPECT_EQ(Expand("${EMPTY:-fallback}"), "fallback");  // shell semantics
  EXPECT_EQ(Expand("${DOLLAR}"), "${HOST}");            // values are not expanded again
}

TEST(ExpandEnvTest, HandlesDollarSigns) {
  EXPECT_EQ(Expand("$$"), "$");
  EXPECT_EQ(Expand("$${HOST}"), "${HOST}");
  EXPECT_EQ(Expand("$$$${HOST}"), "$${HOST}");
  EXPECT_EQ(Expand("$$${HOST}"), "$db.example");
  EXPECT_EQ(Expand("cost: $5"), "cost: $5");
  EXPECT_EQ(Expand("$HOST"), "$HOST");
  EXPECT_EQ(Expand("ends with $"), "ends with $");
  EXPECT_EQ(Expand("$"), "$");
  EXPECT_EQ(Expand("a}b{c"), "a}b{c");
}

TEST(ExpandEnvTest, LiteralTextComesBackUnchanged) {
  for (std::string_view text : {"plain", "$", "$$", "${HOST}", "a$b${MISSING}c$", "$${PORT}"}) {
    EXPECT_EQ(Expand(Literal(text)), text);
  }
}

TEST(WithoutPositionTest, DropsOnlyThePositionOfThatFile) {
  EXPECT_EQ(WithoutPosition("probe.yaml:1:1: invalid target", "probe.yaml"), "invalid target");
  EXPECT_EQ(WithoutPosition("probe.yaml: cannot read", "probe.yaml"), "cannot read");
  EXPECT_EQ(WithoutPosition("other.yaml:1:1: x", "probe.yaml"), "other.yaml:1:1: x");
  EXPECT_EQ(WithoutPosition("probe.yaml.bak: x", "probe.yaml"), "probe.yaml.bak: x");
}

TEST(ExpandEnvTest, ReportsErrors) {
  EXPECT_EQ(ExpandError("${MISSING}"),
            "environment variable MISSING is not set (use ${MISSING:-default} for a default)");
  EXPECT_EQ(ExpandError("x ${HOST} ${NOPE} y"),
            "environment variable NOPE is not set (use ${NOPE:-default} for a default)");
  EXPECT_EQ(ExpandError("${HOST"),
            "unterminated \"${\" in \"${HOST\": expected ${NAME} or ${NAME:-default}");
  EXPECT_EQ(ExpandError("a ${"),
            "unterminated \"${\" in \"${\": expected ${NAME} or "
            "${NAME:-default}");
  EXPECT_EQ(ExpandError("${}"),
            "invalid reference \"${}\": expected ${NAME} or ${NAME:-default}, NAME made of "
            "letters, digits and _");
  EXPECT_EQ(ExpandError("${1X}"),
            "invalid reference \"${1X}\": expected ${NAME} or ${NAME:-default}, NAME made of "
            "letters, digits and _");
  EXPECT_EQ(ExpandError("${A-b}"),
            "invalid reference \"${A-b}\": expected ${NAME} or ${NAME:-default}, NAME made of "
            "letters, digits and _");
  EXPECT_EQ(ExpandError("${A:?b}"),
            "invalid reference \"${A:?b}\": expected ${NAME} or ${NAME:-default}, NAME made of "
            "letters, digits and _");
}

TEST(ExpandEnvTest, EmptyLookupMeansNothingIsSet) {
  EXPECT_EQ(ExpandEnv("${X:-d}", EnvLookup()).value(), "d");
  EXPECT_FALSE(ExpandEnv("${X}", EnvLookup()).ok());
}

TEST(ProcessEnvTest, ReadsTheProcessEnvironment) {
  const char* name = "SRE_SOURCE_TEST_VARIABLE";
  ASSERT_EQ(::setenv(name, "value", 1), 0);
  EXPECT_EQ(ProcessEnv()(name), "value");
  ASSERT_EQ(::unsetenv(name), 0);
  EXPECT_EQ(ProcessEnv()(name), std::nullopt);
}

/// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "sre-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string dir_;
};

using DocumentTest = TempDirTest;

TEST_F(DocumentTest, LoadsAFile) {
  std::string path = Write("agent.yaml", "a: 1\nb: [x, y]\n");
  Result<Document> doc = Document::Load(path);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(doc->file(), path);
  EXPECT_EQ(doc->root()["a"].Scalar(), "1");
  EXPECT_EQ(doc->root()["b"].size(), 2u);
}

TEST_F(DocumentTest, ReportsUnreadableFiles) {
  EXPECT_EQ(Document::Load(dir_ + "/missing.yaml").status().message(),
            dir_ + "/missing.yaml: cannot read: No such file or directory");
  EXPECT_EQ(Document::Load(dir_).status().message(), dir_ + ": cannot read: Is a directory");
}

TEST_F(DocumentTest, ReportsSyntaxErrorsWithFileLineAndColumn) {
  std::string path = Write("bad.yaml", "a: 1\nb: [1, 2\n");
  EXPECT_EQ(Document::Load(path).status().message(), path + ":3:1: end of sequence flow not found");
}

TEST(DocumentFromStringTest, ReportsSyntaxErrors) {
  EXPECT_EQ(Document::FromString("a: b: c\n", "x.yaml").status().message(),
            "x.yaml:1:5: illegal map value");
  EXPECT_EQ(Document::FromString("a: *nope\n", "x.yaml").status().message(),
            "x.yaml:1:4: the referenced anchor is not defined");
  EXPECT_EQ(Document::FromString("a:\n  b: 1\n c: 2\n", "x.yaml").status().message(),
            "x.yaml:3:2: end of map not found");
  EXPECT_EQ(Document::FromString("a: [1, 2\n", "x.yaml").status().message(),
            "x.yaml:2:1: end of sequence flow not found");
}

TEST(DocumentFromStringTest, RejectsDeepNestingWithoutCrashing) {
  std::string deep(10000, '[');
  Result<Document> doc = Document::FromString(deep, "deep.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_TRUE(doc.status().message().starts_with("deep.yaml:1:")) << doc.status().message();
}

TEST(DocumentFromStringTest, TerminatesWhereYamlCppLoadAllLoops) {
  // yaml-cpp 0.7's LoadAll loops forever, allocating, on these (jbeder/yaml-cpp#1040).
  for (const char* text : {",", "\n,\n", "a: 1\n,\n", "- !+(.,.)"}) {
    (void)Document::FromString(text, "x.yaml");
  }
}

TEST(DocumentFromStringTest, AcceptsOneDocument) {
  EXPECT_TRUE(Document::FromString("---\na: 1\n", "x.yaml").ok());
  EXPECT_TRUE(Document::FromString("a: 1\n---\n", "x.yaml").ok());  // trailing empty document
  EXPECT_TRUE(Document::FromString("a: 1\n...\n", "x.yaml").ok());
  Result<Document> empty = Document::FromString("", "x.yaml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->root().IsNull());
  Result<Document> comment = Document::FromString("# nothing yet\n", "x.yaml");
  ASSERT_TRUE(comment.ok());
  EXPECT_TRUE(comment->root().IsNull());
  EXPECT_EQ(Document::FromString("a: 1\n---\nb: 2\n", "x.yaml").status().message(),
            "x.yaml:3:1: expected one YAML document, found another one here");
}

TEST(ParseContextTest, ErrorAtPointsAtTheNode) {
  Document doc = Document::FromString("a: 1\nlist:\n  - x\n  - {k: v}\n", "c.yaml").value();
  ParseContext ctx("c.yaml", kEnv);
  EXPECT_EQ(ctx.ErrorAt(doc.root(), "m").message(), "c.yaml:1:1: m");
  EXPECT_EQ(ctx.ErrorAt(doc.root()["a"], "bad").message(), "c.yaml:1:4: bad");
  EXPECT_EQ(ctx.ErrorAt(doc.root()["list"][1], "bad").message(), "c.yaml:4:5: bad");
  EXPECT_EQ(ctx.ErrorAt(doc.root()["list"][1]["k"], "bad").message(), "c.yaml:4:9: bad");
  // Nodes without a position (built in code, or missing) name the file only.
  EXPECT_EQ(ctx.ErrorAt(YAML::Node(), "bad").message(), "c.yaml: bad");
  const YAML::Node& root = doc.root();
  EXPECT_EQ(ctx.ErrorAt(root["missing"], "bad").message(), "c.yaml: bad");  // an invalid node
}

TEST(ParseContextTest, ExpandedScalar) {
  Document doc = Document::FromString(
                     "a: ${HOST}:${PORT}\nb: ${NOPE}\nc: [1]\nd: {x: 1}\ne:\nf: '$$'\n", "c.yaml")
                     .value();
  ParseContext ctx("c.yaml", kEnv);
  const YAML::Node& root = doc.root();
  EXPECT_EQ(ctx.ExpandedScalar(root["a"]).value(), "db.example:5432");
  EXPECT_EQ(ctx.ExpandedScalar(root["f"]).value(), "$");
  EXPECT_EQ(ctx.ExpandedScalar(root["b"]).status().message(),
            "c.yaml:2:4: environment variable NOPE is not set (use ${NOPE:-default} for a "
            "default)");
  EXPECT_EQ(ctx.ExpandedScalar(root["c"]).status().message(),
            "c.yaml:3:4: expected a string, got a list");
  EXPECT_EQ(ctx.ExpandedScalar(root["d"]).status().message(),
            "c.yaml:4:4: expected a string, got a map");
  // yaml-cpp places an empty value at the next token (here the next line); Schema::Parse moves
  // such errors to the key.
  EXPECT_EQ(ctx.ExpandedScalar(root["e"]).status().message(),
            "c.yaml:6:1: expected a string, got null");
}

using SecretFileTest = TempDirTest;

TEST_F(SecretFileTest, ReadsRelativeToBaseDirAndStripsTrailingNewlines) {
  Write("password", "s3cret\r\n\n");
  Write("multi", "line one\nline two\n");
  Write("spaces", "  padded  \n");
  std::string absolute = Write("token", "tok");
  Document doc =
      Document::FromString(
          "a: password\nb: multi\nc: spaces\nd: " + absolute + "\ne: ${DIR}/password\n", "c.yaml")
          .value();
  ParseContext ctx("c.yaml", FakeEnv({{"DIR", dir_}}), dir_);
  const YAML::Node& root = doc.root();
  EXPECT_EQ(ctx.ReadSecretFile(root["a"]).value(), "s3cret");
  EXPECT_EQ(ctx.ReadSecretFile(root["b"]).value(), "line one\nline two");
  EXPECT_EQ(ctx.ReadSecretFile(root["c"]).value(), "  padded  ");
  EXPECT_EQ(ctx.ReadSecretFile(root["d"]).value(), "tok");
  EXPECT_EQ(ctx.ReadSecretFile(root["e"]).value(), "s3cret");
  // A base_dir with a trailing slash works the same.
  ParseContext slash("c.yaml", kEnv, dir_ + "/");
  EXPECT_EQ(slash.ReadSecretFile(root["a"]).value(), "s3cret");
}

TEST_F(SecretFileTest, ReportsTheNodeAndTheFile) {
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  Write("big", std::string((1 << 20) + 1, 'x'));
  Document doc = Document::FromString(
                     "a: missing\nb: fifo\nc: .\nd: big\ne: ''\nf: [x]\ng: ${NOPE}\n", "c.yaml")
                     .value();
  ParseContext ctx("c.yaml", kEnv, dir_);
  const YAML::Node& root = doc.root();
  EXPECT_EQ(
      ctx.ReadSecretFile(root["a"]).status().message(),
      "c.yaml:1:4: cannot read secret file \"" + dir_ + "/missing\": No such file or directory");
  EXPECT_EQ(ctx.ReadSecretFile(root["b"]).status().message(),
            "c.yaml:2:4: cannot read secret file \"" + dir_ + "/fifo\": not a regular file");
  EXPECT_EQ(ctx.ReadSecretFile(root["c"]).status().message(),
            "c.yaml:3:4: cannot read secret file \"" + dir_ + "/.\": Is a directory");
  EXPECT_EQ(ctx.ReadSecretFile(root["d"]).status().message(),
            "c.yaml:4:4: cannot read secret file \"" + dir_ + "/big\": larger than 1048576 bytes");
  EXPECT_EQ(ctx.ReadSecretFile(root["e"]).status().message(),
            "c.yaml:5:4: expected the path of a secret file, got \"\"");
  EXPECT_EQ(ctx.ReadSecretFile(root["f"]).status().message(),
            "c.yaml:6:4: expected a string, got a list");
  EXPECT_EQ(ctx.ReadSecretFile(root["g"]).status().message(),
            "c.yaml:7:4: environment variable NOPE is not set (use ${NOPE:-default} for a "
            "default)");
}

std::string Canonical(const std::string& yaml, const EnvLookup& env = kEnv) {
  Document doc = Document::FromString(yaml, "c.yaml").value();
  return CanonicalText(doc.root(), ParseContext("c.yaml", env));
}

TEST(CanonicalTextTest, IsStableAcrossKeyOrderAndStyle) {
  EXPECT_EQ(Canonical("b: 2\na: 1\nc: [x, {z: 1, y: 2}]\n"),
            R"({"a":"1","b":"2","c":["x",{"y":"2","z":"1"}]})");
  EXPECT_EQ(Canonical("{a: 1, b: 2}"), Canonical("b: 2\na: '1'\n"));
  EXPECT_EQ(Canonical("a: ~\nb: ''\n"), R"({"a":~,"b":""})");
  EXPECT_EQ(Canonical("\"q\\\"\\n\": x"), R"({"q\"\n":"x"})");
}

TEST(CanonicalTextTest, ExpandsEnvironmentVariables) {
  EXPECT_EQ(Canonical("target: ${HOST}:${PORT}"), R"({"target":"db.example:5432"})");
  EXPECT_EQ(Canonical("target: ${HOST}", FakeEnv({{"HOST", "a"}})),
            Canonical("target: a", FakeEnv({})));
  EXPECT_NE(Canonical("target: ${HOST}", FakeEnv({{"HOST", "a"}})),
            Canonical("target: ${HOST}", FakeEnv({{"HOST", "b"}})));
  // An unexpandable value keeps its raw text, marked, so it never equals an expanded one.
  EXPECT_EQ(Canonical("a: ${NOPE}"), R"({"a":!raw"${NOPE}"})");
}

TEST(CanonicalTextTest, DistinguishesDifferentConfigs) {
  EXPECT_NE(Canonical("a: 1"), Canonical("a: 2"));
  EXPECT_NE(Canonical("a: [1, 2]"), Canonical("a: [2, 1]"));
  EXPECT_NE(Canonical("a: ''"), Canonical("a:"));
  EXPECT_NE(Canonical("a: [x]"), Canonical("a: x"));
  EXPECT_NE(Canonical("a: {b: c}"), Canonical("a: [b, c]"));
}

TEST(CanonicalTextTest, TerminatesOnCyclesAndAliasBombs) {
  // yaml-cpp lets an alias refer to the node that contains it.
  std::string cyclic = Canonical("&a [*a, *a]");
  EXPECT_TRUE(cyclic.ends_with("!truncated")) << cyclic.substr(0, 100);
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c) {
    const std::string alias = std::string("*") + static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [" + alias;
    for (int i = 1; i < 10; ++i) bomb += ", " + alias;
    bomb += "]\n";
  }
  std::string text = Canonical(bomb);
  EXPECT_LT(text.size(), 16u << 20);
  EXPECT_TRUE(text.ends_with("!truncated"));
  EXPECT_EQ(Canonical("&a [*a]").find("!too-deep") != std::string::npos, true);
}

}  // namespace
}  // namespace sre::config
