// The CPU side of the postfix exporter without its I/O: parsing a recorded showq stream of 10,000
// and 100,000 queued messages (exporters/postfix/testdata/showq_raw_N*.bin.gz, decompressed once,
// fed in the 64 KiB pieces ShowqClient reads), and counting mail log lines. Figures go to
// docs/benchmarks.md; tests/bench/postfix_showq.py measures the whole processes.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/postfix/mail_log.h"
#include "exporters/postfix/showq.h"

namespace sre::exporters::postfix {
namespace {

constexpr size_t kReadBytes = 65536;  // ShowqClient's recv buffer

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::exit(1);
}

// A file of exporters/postfix/testdata/, from $SRE_SOURCE_DIR or the source dir this was built
// from; gzip files are decompressed (gzread reads plain files as they are).
std::string Testdata(const std::string& name) {
  const char* env = std::getenv("SRE_SOURCE_DIR");
  const std::string path = std::string(env != nullptr ? env : SRE_BENCH_SOURCE_DIR) +
                           "/exporters/postfix/testdata/" + name;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) Die("cannot read " + path);
  std::string out;
  char buffer[kReadBytes];
  for (int n; (n = gzread(file, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  gzclose(file);
  return out;
}

// The recorded stream of `messages` queued messages, decompressed on first use.
const std::string& Stream(int64_t messages) {
  static std::map<int64_t, std::string> streams;
  auto it = streams.find(messages);
  if (it == streams.end()) {
    const std::string name = "showq_raw_N" + std::to_string(messages) + ".bin.gz";
    it = streams.emplace(messages, Testdata(name)).first;
  }
  return it->second;
}

// One read of the listing as ShowqClient does it: a fresh parser fed 64 KiB at a time.
// Arg: messages in the stream (10,000 recorded from a real postfix 3.7; 100,000 the same
// records repeated with fresh queue IDs).
void BM_ShowqParse(benchmark::State& state) {
  const std::string& stream = Stream(state.range(0));
  const double now = static_cast<double>(std::time(nullptr));
  uint64_t messages = 0;
  for (auto _ : state) {
    ShowqParser parser(now);
    std::string_view rest = stream;
    ShowqParser::State result = ShowqParser::State::kNeedMore;
    while (!rest.empty() && result == ShowqParser::State::kNeedMore) {
      const size_t n = std::min(rest.size(), kReadBytes);
      result = parser.Feed(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    if (result != ShowqParser::State::kComplete) Die("the stream did not parse: " + parser.error());
    messages = parser.messages();
    benchmark::DoNotOptimize(parser.queues());
  }
  if (messages != static_cast<uint64_t>(state.range(0))) Die("wrong message count");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["messages"] = static_cast<double>(messages);
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
  state.counters["messages_per_second"] =
      benchmark::Counter(static_cast<double>(messages) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShowqParse)
    ->ArgName("messages")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// Not the exporter's code: a floor for any attr0 reader, finding every NUL of the same stream
// with memchr in the same 64 KiB pieces and doing nothing with the fields.
void BM_ShowqNulScanFloor(benchmark::State& state) {
  const std::string& stream = Stream(state.range(0));
  size_t fields = 0;
  for (auto _ : state) {
    fields = 0;
    for (std::string_view rest = stream; !rest.empty();) {
      std::string_view piece = rest.substr(0, std::min(rest.size(), kReadBytes));
      rest.remove_prefix(piece.size());
      for (size_t nul; (nul = piece.find('\0')) != std::string_view::npos;) {
        ++fields;
        piece.remove_prefix(nul + 1);
      }
    }
    benchmark::DoNotOptimize(fields);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["nul_bytes"] = static_cast<double>(fields);
}
BENCHMARK(BM_ShowqNulScanFloor)
    ->ArgName("messages")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

// Lines of the kinds a busy relay logs, beside the real instance's 300 lines: inbound sessions
// with TLS and SASL, deliveries sent, deferred and bounced, rejects, lost connections, and
// lines nobody counts. The same kinds as tests/bench/postfix_showq.py generates.
constexpr std::string_view kMixLines[] = {
    "Nov 28 03:44:21 mail postfix/smtpd[38355]: connect from "
    "mail-3395.out.example.net[198.51.101.125]",
    "Nov 28 03:44:21 mail postfix/smtpd[38355]: Anonymous TLS connection established from "
    "mail-3395.out.example.net[198.51.101.125]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
    "(256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
    "Nov 28 03:44:21 mail postfix/smtpd[38355]: C9546ACC9AF: "
    "client=mail-3395.out.example.net[198.51.101.125]",
    "Nov 28 03:44:21 mail postfix/cleanup[37333]: C9546ACC9AF: "
    "message-id=<3ac7652ccdf84404@sender276.example>",
    "Nov 28 03:44:21 mail postfix/qmgr[1234]: C9546ACC9AF: from=<user70579@sender276.example>, "
    "size=167358, nrcpt=1 (queue active)",
    "Nov 28 03:44:21 mail postfix/smtpd[38355]: disconnect from "
    "mail-3395.out.example.net[198.51.101.125] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 "
    "commands=7",
    "Nov 28 03:44:21 mail postfix/smtp[14096]: Trusted TLS connection established to "
    "mx3.example.org[203.0.113.141]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "Nov 28 03:44:21 mail postfix/smtp[14096]: C9546ACC9AF: to=<rcpt12006@example.org>, "
    "relay=mx3.example.org[203.0.113.141]:25, delay=3.12, delays=2.82/0.08/0.04/0.18, dsn=2.0.0, "
    "status=sent (250 2.0.0 Ok: queued as C10FAD16E22)",
    "Nov 28 03:44:21 mail postfix/qmgr[1234]: C9546ACC9AF: removed",
    "Nov 28 03:44:22 mail postfix/submission/smtpd[19428]: connect from "
    "mail-2822.out.example.net[198.51.100.205]",
    "Nov 28 03:44:22 mail postfix/submission/smtpd[19428]: 870263B0B8C: "
    "client=mail-2822.out.example.net[198.51.100.205], sasl_method=LOGIN, "
    "sasl_username=user21950@sender81.example",
    "Nov 28 03:44:22 mail postfix/smtp[58834]: 870263B0B8C: to=<rcpt57535@example.org>, "
    "relay=none, delay=30.2, delays=0.1/0/30/0, dsn=4.4.1, status=deferred (connect to "
    "mx1.example.org[203.0.113.173]:25: Connection timed out)",
    "Nov 28 03:44:22 mail postfix/smtp[58834]: connect to mx1.example.org[203.0.113.173]:25: "
    "Connection timed out",
    "Nov 28 03:44:22 mail postfix/smtp[58834]: 180728CE42C: to=<rcpt96045@example.org>, "
    "relay=mx3.example.org[203.0.113.173]:25, delay=1.13, delays=0.15/0.15/0.05/0.78, dsn=5.1.1, "
    "status=bounced (host mx3.example.org[203.0.113.173] said: 550 5.1.1 <rcpt96045@example.org>: "
    "Recipient address rejected: User unknown (in reply to RCPT TO command))",
    "Nov 28 03:44:22 mail postfix/bounce[4411]: 180728CE42C: sender non-delivery notification: "
    "5EDA98D5C8D",
    "Nov 28 03:44:22 mail postfix/smtpd[1811]: NOQUEUE: reject: RCPT from "
    "mail-328.out.example.net[198.51.100.24]: 554 5.7.1 <rcpt21236@example.org>: Relay access "
    "denied; from=<user76912@sender215.example> to=<rcpt21236@example.org> proto=ESMTP "
    "helo=<mail-328.out.example.net>",
    "Nov 28 03:44:22 mail postfix/smtpd[1811]: lost connection after AUTH from "
    "unknown[198.51.100.66]",
    "Nov 28 03:44:22 mail postfix/smtpd[1811]: warning: unknown[198.51.100.66]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6",
    "Nov 28 03:44:22 mail postfix/anvil[2231]: statistics: max connection rate 4/60s for "
    "(smtp:198.51.100.66) at Nov 28 03:40:01",
    "Nov 28 03:44:22 mail dovecot: imap-login: Login: user=<user1>, method=PLAIN, "
    "rip=198.51.100.7, "
    "lip=192.0.2.10, mpid=4412, TLS, session=<k3Jd8+kJ4Mx/AAAB>",
};

// Arg 0: the real instance's log (testdata/maillog_sample.log, 300 lines: smtpd, cleanup, qmgr,
// error deliveries deferred); arg 1: those lines and kMixLines, 20 of each in turn.
const std::string& LogBuffer(int64_t kind) {
  static std::map<int64_t, std::string> buffers;
  auto it = buffers.find(kind);
  if (it != buffers.end()) return it->second;
  const std::string sample = Testdata("maillog_sample.log");
  std::string out;
  if (kind == 0) {
    out = sample;
  } else {
    std::vector<std::string_view> real;
    for (std::string_view rest = sample; !rest.empty();) {
      const size_t newline = rest.find('\n');
      real.push_back(rest.substr(0, newline));
      rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    }
    size_t mix = 0;
    for (size_t i = 0; i < real.size(); i += 20) {
      for (size_t j = i; j < std::min(real.size(), i + 20); ++j) out.append(real[j]) += '\n';
      for (int j = 0; j < 20; ++j, ++mix) {
        out.append(kMixLines[mix % std::size(kMixLines)]) += '\n';
      }
    }
  }
  return buffers.emplace(kind, std::move(out)).first->second;
}

// The agent's path for log lines without the read(): the buffer split at newlines as
// FileFollower does, each line counted into long-lived counters. items_per_second is lines/s.
void BM_MailLogLines(benchmark::State& state) {
  const std::string& buffer = LogBuffer(state.range(0));
  MailLogCounters counters;
  for (auto _ : state) {
    for (std::string_view rest = buffer; !rest.empty();) {
      const size_t newline = rest.find('\n');
      counters.Consume(rest.substr(0, newline));
      rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    }
  }
  const auto lines = static_cast<int64_t>(counters.lines() / state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(counters.lines()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buffer.size()));
  state.counters["lines"] = static_cast<double>(lines);
  state.counters["unsupported_share"] =
      static_cast<double>(counters.unsupported()) / static_cast<double>(counters.lines());
}
BENCHMARK(BM_MailLogLines)->ArgName("mix")->Arg(0)->Arg(1);

// Finding the `postfix/SERVICE[PID]: ` tag alone, on the same lines.
void BM_SplitLogLine(benchmark::State& state) {
  const std::string& buffer = LogBuffer(state.range(0));
  int64_t lines = 0;
  for (auto _ : state) {
    for (std::string_view rest = buffer; !rest.empty();) {
      const size_t newline = rest.find('\n');
      benchmark::DoNotOptimize(SplitLogLine(rest.substr(0, newline)));
      rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
      ++lines;
    }
  }
  state.SetItemsProcessed(lines);
}
BENCHMARK(BM_SplitLogLine)->ArgName("mix")->Arg(0)->Arg(1);

}  // namespace
}  // namespace sre::exporters::postfix

BENCHMARK_MAIN();
