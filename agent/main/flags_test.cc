#include "agent/main/flags.h"

#include <gtest/gtest.h>

namespace sre::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"config.file", "FILE", "config", "/etc/x.yaml"},
    {"web.listen-address", "ADDR", "where", ":8944", true},
    {"tls", "", "switch"},
};

TEST(FlagsTest, ParsesEqualsSpaceSwitchesAndPositionals) {
  auto flags = ParseFlags(kSpecs, {"--config.file=a.yaml", "--web.listen-address", ":1",
                                   "--web.listen-address=:2", "--tls", "host:1", "--", "--x"});
  ASSERT_TRUE(flags.ok()) << flags.status().message();
  EXPECT_EQ(flags->Get("config.file"), "a.yaml");
  EXPECT_EQ(flags->GetAll("web.listen-address"), (std::vector<std::string>{":1", ":2"}));
  EXPECT_EQ(flags->Get("tls"), "true");
  EXPECT_EQ(flags->positional, (std::vector<std::string>{"host:1", "--x"}));
}

TEST(FlagsTest, NegatedSwitch) {
  auto flags = ParseFlags(kSpecs, {"--no-tls"});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->Get("tls"), "false");
}

TEST(FlagsTest, ErrorsSayWhatWasExpected) {
  EXPECT_EQ(ParseFlags(kSpecs, {"--nope"}).status().message(),
            "unknown flag --nope; expected one of --config.file, --web.listen-address, --tls");
  EXPECT_EQ(ParseFlags(kSpecs, {"--config.file"}).status().message(),
            "--config.file needs a value: --config.file=FILE");
  EXPECT_EQ(ParseFlags(kSpecs, {"--config.file=a", "--config.file=b"}).status().message(),
            "--config.file given twice; it takes one value");
  EXPECT_EQ(ParseFlags(kSpecs, {"--tls=maybe"}).status().message(),
            "--tls is a switch: expected no value, or =true/=false");
}

TEST(FlagsTest, HelpListsDefaultsAndRepeatable) {
  const std::string help = RenderFlagHelp(kSpecs);
  EXPECT_NE(help.find("--config.file=FILE"), std::string::npos);
  EXPECT_NE(help.find("(default: /etc/x.yaml)"), std::string::npos);
  EXPECT_NE(help.find("(repeatable)"), std::string::npos);
}

}  // namespace
}  // namespace sre::cli
