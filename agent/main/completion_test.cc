#include "agent/main/completion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "agent/main/probe_output.h"

namespace sre::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Small, but with what the generators must handle: a two-word group, a choice argument, FILE
// flags and arguments, a repeatable flag, and help text full of shell, zsh and roff specials.
const std::vector<CommandDoc> kCommands = {
    {"tcp",
     "HOST:PORT",
     "connect to every address of HOST",
     {{"tls", "", "do a TLS handshake"},
      {"tls-ca-file", "FILE", "CA bundle", "/etc/ssl/ca.pem"},
      {"expect", "REGEX", "a line must match [a-z]+: it's \"quoted\" \\d"},
      {"dns-server", "ADDR", "DNS server", "", true},
      {"output", "FORMAT", "text, json, prom or nagios", "text"}}},
    {"config validate", "FILE", ".starts with a dot", {{"help", "", "'starts with a quote"}}},
    {"alert test", "RECEIVER", "send a test alert", {{"config", "FILE", "the agent's config"}}},
    {"completion", "bash|zsh", "print the completion script", {{"help", "", "show this help"}}},
};

TEST(BashCompletionTest, ListsEveryCommandAndFlag) {
  const std::string script = BashCompletion(kCommands);
  EXPECT_THAT(script, HasSubstr("complete -F _sre_probe sre-probe\n"));
  // First words in table order; the groups' second words; each command's flags.
  EXPECT_THAT(script, HasSubstr("_sre_probe_reply 'tcp config alert completion' \"$cur\""));
  EXPECT_THAT(script, HasSubstr("'config') words='validate' ;;"));
  EXPECT_THAT(script, HasSubstr("'alert') words='test' ;;"));
  EXPECT_THAT(script, HasSubstr("'config validate')\n      flags='--help'"));
  EXPECT_THAT(script, HasSubstr("flags='--tls --tls-ca-file --tls-ca-file= --expect --expect= "
                                "--dns-server --dns-server= --output --output='"));
  EXPECT_THAT(script, HasSubstr("valued='tls-ca-file expect dns-server output'"));
  EXPECT_THAT(script, HasSubstr("'alert test')\n      flags='--config --config='"));
}

TEST(BashCompletionTest, CompletesKnownValuesFilesAndChoices) {
  const std::string script = BashCompletion(kCommands);
  EXPECT_THAT(script, HasSubstr("'output') _sre_probe_reply 'text json prom nagios' \"$2\""));
  EXPECT_THAT(script, HasSubstr("'tls-ca-file') _sre_probe_files \"$2\""));
  EXPECT_THAT(script, HasSubstr("'config') _sre_probe_files \"$2\""));
  EXPECT_THAT(script, Not(HasSubstr("'expect') ")));  // any regex goes: nothing to suggest
  EXPECT_THAT(script, HasSubstr("arg_words='bash zsh'"));
  EXPECT_THAT(script, HasSubstr("'config validate')\n      flags='--help'\n      valued=''\n"
                                "      arg_words=''\n      arg_files=1 ;;"));
}

TEST(ZshCompletionTest, ListsEveryCommandAndFlagWithItsHelp) {
  const std::string script = ZshCompletion(kCommands);
  EXPECT_TRUE(script.starts_with("#compdef sre-probe\n"));
  EXPECT_THAT(script, HasSubstr("'tcp:connect to every address of HOST'"));
  EXPECT_THAT(script, HasSubstr("'config:validate: .starts with a dot'"));
  EXPECT_THAT(script, HasSubstr("'config') commands=( 'validate:.starts with a dot' ) ;;"));
  EXPECT_THAT(script, HasSubstr("'alert') commands=( 'test:send a test alert' ) ;;"));
  EXPECT_THAT(script, HasSubstr("'--tls[do a TLS handshake]'"));
  EXPECT_THAT(script, HasSubstr("'--tls-ca-file=[CA bundle (default\\: /etc/ssl/ca.pem)]"
                                ":FILE:_files'"));
  EXPECT_THAT(script, HasSubstr("'*--dns-server=[DNS server]:ADDR: '"));
  EXPECT_THAT(script, HasSubstr(":FORMAT:(text json prom nagios)'"));
  EXPECT_THAT(script, HasSubstr("':HOST\\:PORT: '"));
  EXPECT_THAT(script, HasSubstr("':FILE:_files'"));
  EXPECT_THAT(script, HasSubstr("':bash|zsh:(bash zsh)'"));
  EXPECT_THAT(script, HasSubstr("'--config=[the agent'\\''s config]:FILE:_files'"));
}

TEST(ZshCompletionTest, EscapesBracketsColonsQuotesAndBackslashes) {
  const std::string script = ZshCompletion(kCommands);
  // [ ] : and \ are _arguments syntax, backslashed; ' ends a single-quoted word, so it is
  // written '\'' ; " needs nothing inside single quotes.
  EXPECT_THAT(script, HasSubstr("'--expect=[a line must match \\[a-z\\]+\\: it'\\''s "
                                "\"quoted\" \\\\d]:REGEX: '"));
}

// Each line of the page that starts with "." or "'" is a request; these are the ones it uses.
std::set<std::string> Requests(const std::string& page) {
  std::set<std::string> requests;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(".") || line.starts_with("'")) {
      requests.insert(line.substr(0, line.find(' ')));
    }
  }
  return requests;
}

TEST(ManPageTest, HasEverySection) {
  const std::string page = ManPage(kCommands, "1.2.3", "2026-01-02");
  EXPECT_THAT(page, HasSubstr(".TH SRE\\-PROBE 1 \"2026-01-02\" \"sre-agent 1.2.3\""));
  for (const char* section : {".SH NAME\nsre\\-probe \\- ", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n",
                              ".SH COMMANDS\n", ".SH OUTPUT\n", ".SH \"EXIT STATUS\"\n",
                              ".SH ENVIRONMENT\n", ".SH EXAMPLES\n", ".SH \"SEE ALSO\"\n"}) {
    EXPECT_THAT(page, HasSubstr(section));
  }
  EXPECT_THAT(page, HasSubstr("\\fBNO_COLOR\\fR"));
  EXPECT_THAT(page, HasSubstr(".BR sre\\-agent (8)"));
  for (const char* format : {"text", "json", "prom", "nagios"}) {
    EXPECT_THAT(page, HasSubstr(std::string(".TP\n\\fB") + format + "\\fR\n"));
  }
  for (const char* code : {"0", "1", "2", "3"}) {
    EXPECT_THAT(page, HasSubstr(std::string(".TP\n\\fB") + code + "\\fR\n"));
  }
  EXPECT_THAT(page, HasSubstr("$ sre\\-probe config validate /etc/sre\\-agent/sre\\-agent.yaml"));
}

TEST(ManPageTest, HasEveryCommandWithItsFlagsAndDefaults) {
  const std::string page = ManPage(kCommands, "1.2.3", "2026-01-02");
  EXPECT_THAT(page, HasSubstr(".SS\n\\fBsre\\-probe tcp\\fR \\fIHOST:PORT\\fR [\\fIFLAGS\\fR]\n"
                              "connect to every address of HOST\n"));
  EXPECT_THAT(page, HasSubstr("\\fBsre\\-probe config validate\\fR \\fIFILE\\fR"));
  EXPECT_THAT(page, HasSubstr("\\fBsre\\-probe alert test\\fR \\fIRECEIVER\\fR"));
  EXPECT_THAT(page, HasSubstr("\\fBsre\\-probe completion\\fR \\fIbash|zsh\\fR"));
  EXPECT_THAT(page, HasSubstr(".TP\n\\fB\\-\\-tls\\fR\ndo a TLS handshake\n"));
  EXPECT_THAT(page, HasSubstr(".TP\n\\fB\\-\\-tls\\-ca\\-file\\fR=\\fIFILE\\fR\n"
                              "CA bundle (default: \\fB/etc/ssl/ca.pem\\fR)\n"));
  EXPECT_THAT(page, HasSubstr("DNS server; may be given more than once\n"));
  EXPECT_THAT(page, HasSubstr("\\fB\\-\\-config\\fR=\\fIFILE\\fR"));
  EXPECT_THAT(page, HasSubstr("\\fB\\-\\-output\\fR=\\fIFORMAT\\fR"));
}

TEST(ManPageTest, EscapesRoffSpecials) {
  const std::string page = ManPage(kCommands, "1.2.3", "2026-01-02");
  EXPECT_THAT(page, HasSubstr("it's \"quoted\" \\ed\n"));       // a backslash from the table
  EXPECT_THAT(page, HasSubstr("\n\\&.starts with a dot\n"));    // not a request
  EXPECT_THAT(page, HasSubstr("\n\\&'starts with a quote\n"));  // nor a control line
  EXPECT_THAT(page, Not(HasSubstr("\\d")));
  // No table text turned into a request: only the macros the generator writes start lines.
  EXPECT_EQ(Requests(page), (std::set<std::string>{".TH", ".nh", ".ad", ".SH", ".SS", ".TP", ".PP",
                                                   ".RS", ".RE", ".nf", ".fi", ".BR", ".\\\""}));
}

TEST(ManPageTest, QuotesTitleArguments) {
  const std::string page = ManPage(kCommands, "1.0 \"beta\"", "2026-01-02");
  EXPECT_THAT(page, HasSubstr("\"sre-agent 1.0 \\(dqbeta\\(dq\""));
}

TEST(CompletionTest, KnownOutputValuesAreTheOnesSreProbeParses) {
  const auto values = KnownFlagValues({"output", "FORMAT", "text, json, prom or nagios"});
  ASSERT_EQ(values.size(), 4u);
  for (const auto& value : values) EXPECT_TRUE(ParseOutputFormat(value).ok()) << value;
  EXPECT_TRUE(KnownFlagValues({"timeout", "DURATION", "give up"}).empty());
}

}  // namespace
}  // namespace sre::cli
