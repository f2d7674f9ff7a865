#include "exporters/php_fpm/fastcgi.h"

#include <gtest/gtest.h>

#include <random>

#include "exporters/php_fpm/fake_php_fpm.h"

namespace sre::exporters::php_fpm {
namespace {

using State = ResponseDecoder::State;

// --- Building and reading records in tests ---------------------------------------------------

std::string Record(RecordType type, uint16_t id, std::string_view content) {
  std::string out;
  AppendRecord(out, type, id, content);
  return out;
}

std::string EndRequest(uint16_t id, uint32_t app_status, ProtocolStatus status) {
  const char body[8] = {static_cast<char>(app_status >> 24), static_cast<char>(app_status >> 16),
                        static_cast<char>(app_status >> 8), static_cast<char>(app_status),
                        static_cast<char>(status)};
  return Record(RecordType::kEndRequest, id, std::string_view(body, sizeof(body)));
}

// What php-fpm sends: STDERR first, STDOUT in records of `chunk` bytes, END_REQUEST.
std::string Response(std::string_view out, std::string_view err = {}, size_t chunk = 0xfff8,
                     uint16_t id = 1) {
  std::string bytes;
  if (!err.empty()) AppendRecord(bytes, RecordType::kStderr, id, err);
  for (size_t pos = 0; pos < out.size(); pos += chunk) {
    AppendRecord(bytes, RecordType::kStdout, id, out.substr(pos, chunk));
  }
  return bytes + EndRequest(id, 0, ProtocolStatus::kRequestComplete);
}

struct ParsedRecord {
  uint8_t version = 0;
  uint8_t type = 0;
  uint16_t id = 0;
  std::string content;
  uint8_t padding = 0;
};

std::vector<ParsedRecord> SplitRecords(std::string_view bytes) {
  std::vector<ParsedRecord> records;
  while (bytes.size() >= kRecordHeaderBytes) {
    const auto at = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
    ParsedRecord record{at(0), at(1), static_cast<uint16_t>(at(2) << 8 | at(3)), {}, at(6)};
    const size_t length = at(4) << 8 | at(5);
    record.content = std::string(bytes.substr(kRecordHeaderBytes, length));
    bytes.remove_prefix(std::min(bytes.size(), kRecordHeaderBytes + length + record.padding));
    records.push_back(std::move(record));
  }
  EXPECT_TRUE(bytes.empty()) << bytes.size() << " stray bytes";
  return records;
}

size_t ReadLength(std::string_view& stream) {
  const auto byte = [&](size_t i) {
    return i < stream.size() ? static_cast<size_t>(static_cast<uint8_t>(stream[i])) : 0;
  };
  const size_t first = byte(0);
  if (first < 128) {
    stream.remove_prefix(std::min<size_t>(1, stream.size()));
    return first;
  }
  const size_t length = (first & 0x7f) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
  stream.remove_prefix(std::min<size_t>(4, stream.size()));
  return length;
}

Params DecodePairs(std::string_view stream) {
  Params params;
  while (!stream.empty()) {
    const size_t name_length = ReadLength(stream);
    const size_t value_length = ReadLength(stream);
    params.emplace_back(stream.substr(0, name_length),
                        stream.substr(std::min(name_length, stream.size()), value_length));
    stream.remove_prefix(std::min(stream.size(), name_length + value_length));
  }
  return params;
}

// What a decoder ended with, to compare runs fed with different splits.
struct Outcome {
  State state;
  Reason reason;
  std::string error, out, err;
  uint32_t app_status;
  bool operator==(const Outcome&) const = default;
};

Outcome Decode(std::string_view bytes, const std::vector<size_t>& pieces,
               ResponseLimits limits = {}) {
  ResponseDecoder decoder(1, limits);
  for (const size_t piece : pieces) {
    decoder.Feed(bytes.substr(0, piece));
    bytes.remove_prefix(std::min(piece, bytes.size()));
  }
  decoder.Feed(bytes);
  decoder.FeedEof();
  return {decoder.state(),        decoder.reason(),       decoder.error(),
          decoder.stdout_bytes(), decoder.stderr_bytes(), decoder.app_status()};
}

Outcome DecodeWhole(std::string_view bytes) { return Decode(bytes, {}); }

// --- Request encoding ------------------------------------------------------------------------

TEST(EncodeRequestTest, BeginParamsEmptyParamsEmptyStdin) {
  const Params params = {{"SCRIPT_NAME", "/status"}, {"QUERY_STRING", "json"}, {"EMPTY", ""}};
  const auto records = SplitRecords(EncodeRequest(0x1234, params));
  ASSERT_EQ(records.size(), 4u);
  for (const auto& record : records) {
    EXPECT_EQ(record.version, 1);
    EXPECT_EQ(record.id, 0x1234);
    EXPECT_EQ((record.content.size() + record.padding) % 8, 0u);
    EXPECT_LT(record.padding, 8);
  }
  EXPECT_EQ(records[0].type, 1);  // FCGI_BEGIN_REQUEST: role FCGI_RESPONDER, flags 0
  EXPECT_EQ(records[0].content, std::string("\0\1\0\0\0\0\0\0", 8));
  EXPECT_EQ(records[1].type, 4);
  EXPECT_EQ(DecodePairs(records[1].content), params);
  EXPECT_EQ(records[2].type, 4);
  EXPECT_EQ(records[2].content, "");
  EXPECT_EQ(records[3].type, 5);
  EXPECT_EQ(records[3].content, "");
}

TEST(EncodeRequestTest, LengthsBelow128TakeOneByteOthersFour) {
  const std::string value127(127, 'v'), name128(128, 'n');
  const auto records = SplitRecords(EncodeRequest(1, {{"A", value127}, {name128, "B"}}));
  ASSERT_EQ(records.size(), 4u);
  const std::string& content = records[1].content;
  EXPECT_EQ(content.substr(0, 2), std::string("\x01\x7f", 2));
  EXPECT_EQ(content.substr(2, 128), "A" + value127);
  EXPECT_EQ(content.substr(130, 5), std::string("\x80\x00\x00\x80\x01", 5));
  EXPECT_EQ(content.substr(135), name128 + "B");
}

TEST(EncodeRequestTest, ValueOf70000BytesSpansRecordsAndSmallPairsStayWhole) {
  const Params params = {
      {"SCRIPT_NAME", "/status"}, {"BIG", std::string(70000, 'x')}, {"QUERY_STRING", "json"}};
  const auto records = SplitRecords(EncodeRequest(7, params));
  std::string stream;
  size_t params_records = 0;
  for (const auto& record : records) {
    if (record.type != 4 || record.content.empty()) continue;
    ++params_records;
    EXPECT_LE(record.content.size() + record.padding, 0xffffu);  // php-fpm's bound
    stream += record.content;
  }
  EXPECT_EQ(params_records, 3u);
  EXPECT_EQ(DecodePairs(records[1].content), Params(params.begin(), params.begin() + 1));
  EXPECT_EQ(records[2].content.size(), kParamsRecordContent);
  EXPECT_EQ(DecodePairs(stream), params);
}

// --- Response decoding -----------------------------------------------------------------------

const std::string kCgi = "Status: 503 Server busy\r\nContent-Type: text/plain\r\n\r\nbusy, retry";

TEST(ResponseDecoderTest, DecodesStdoutStderrAndEndRequest) {
  std::string bytes = Record(RecordType::kStderr, 1, "PHP Warning: x");
  bytes += Record(RecordType::kStdout, 1, kCgi.substr(0, 13));  // 13: padding 3
  bytes += Record(RecordType::kStdout, 1, kCgi.substr(13));
  bytes += Record(RecordType::kStdout, 1, "");  // stream end: accepted, not required
  bytes += EndRequest(1, 258, ProtocolStatus::kRequestComplete);
  ResponseDecoder decoder(1);
  EXPECT_EQ(decoder.Feed(bytes), State::kComplete);
  EXPECT_EQ(decoder.FeedEof(), State::kComplete);
  EXPECT_EQ(decoder.stdout_bytes(), kCgi);
  EXPECT_EQ(decoder.stderr_bytes(), "PHP Warning: x");
  EXPECT_EQ(decoder.app_status(), 258u);
  EXPECT_EQ(decoder.reason(), Reason::kNone);
  const auto cgi = ParseCgiResponse(decoder.stdout_bytes());
  ASSERT_TRUE(cgi.ok()) << cgi.status().message();
  EXPECT_EQ(cgi->status, 503);
  EXPECT_EQ(cgi->body, "busy, retry");
}

TEST(ResponseDecoderTest, EverySplitGivesTheSameOutcome) {
  const std::vector<std::string> inputs = {
      Response(kCgi, "stderr line", 5),
      Response(kCgi).substr(0, 30),  // truncated
      Record(RecordType::kStdout, 1, "abc") + EndRequest(1, 0, ProtocolStatus::kOverloaded),
      Record(RecordType::kStdout, 1, "abc") + Record(RecordType::kUnknownType, 0, "12345678"),
  };
  std::mt19937 random(7);
  for (const std::string& bytes : inputs) {
    const Outcome whole = DecodeWhole(bytes);
    EXPECT_EQ(Decode(bytes, std::vector<size_t>(bytes.size(), 1)), whole) << "byte by byte";
    for (size_t split = 0; split <= bytes.size(); ++split) {
      EXPECT_EQ(Decode(bytes, {split}), whole) << "split at " << split;
    }
    for (int round = 0; round < 200; ++round) {
      std::vector<size_t> pieces;
      for (size_t total = 0; total < bytes.size(); total += pieces.back()) {
        pieces.push_back(random() % 20);  // empty pieces included
      }
      EXPECT_EQ(Decode(bytes, pieces), whole);
    }
  }
  EXPECT_EQ(DecodeWhole(inputs[0]).state, State::kComplete);
}

Outcome DecodeError(std::string_view bytes) {
  const Outcome outcome = DecodeWhole(bytes);
  EXPECT_EQ(outcome.state, State::kError);
  return outcome;
}

TEST(ResponseDecoderTest, TruncationSaysWhereTheConnectionClosed) {
  const std::string full = Record(RecordType::kStdout, 1, "0123456789") +  // 10 + 6 padding
                           EndRequest(1, 0, ProtocolStatus::kRequestComplete);
  EXPECT_EQ(DecodeError("").error, "truncated: connection closed after 0 bytes, before any record");
  EXPECT_EQ(DecodeError(full.substr(0, 3)).error,
            "truncated: connection closed after 3 bytes, inside a record header (3 of 8 bytes)");
  EXPECT_EQ(DecodeError(full.substr(0, 12)).error,
            "truncated: connection closed after 12 bytes, inside the content of an FCGI_STDOUT "
            "record (6 bytes missing)");
  EXPECT_EQ(DecodeError(full.substr(0, 20)).error,
            "truncated: connection closed after 20 bytes, inside the padding of an FCGI_STDOUT "
            "record (4 bytes missing)");
  EXPECT_EQ(DecodeError(full.substr(0, 24)).error,
            "truncated: connection closed after 24 bytes, between records, before "
            "FCGI_END_REQUEST");
  EXPECT_EQ(DecodeError(full.substr(0, full.size() - 1)).reason, Reason::kProtocolError);
}

TEST(ResponseDecoderTest, RejectsMalformedRecords) {
  std::string wrong_version = Response("x");
  wrong_version[0] = 2;
  EXPECT_EQ(DecodeError(wrong_version).error,
            "unsupported FastCGI version 2 in a record header (want 1)");
  EXPECT_EQ(DecodeError(Response("x", "", 8, 2)).error,
            "FCGI_STDOUT record for request id 2, expected 1");
  EXPECT_EQ(DecodeError(Record(RecordType::kUnknownType, 0, "\x09")).error,
            "unexpected record type 11 (FCGI_UNKNOWN_TYPE)");
  EXPECT_EQ(DecodeError(Record(RecordType::kGetValuesResult, 0, "")).error,
            "unexpected record type 10 (FCGI_GET_VALUES_RESULT)");
  EXPECT_EQ(DecodeError(Record(static_cast<RecordType>(42), 1, "")).error,
            "unexpected record type 42");
  EXPECT_EQ(DecodeError(Record(RecordType::kEndRequest, 1, "1234")).error,
            "FCGI_END_REQUEST record with 4 content bytes, want 8");
}

TEST(ResponseDecoderTest, RefusedRequestsNameTheProtocolStatus) {
  const auto refused = [](ProtocolStatus status) { return DecodeError(EndRequest(1, 0, status)); };
  const Outcome overloaded = refused(ProtocolStatus::kOverloaded);
  EXPECT_EQ(overloaded.reason, Reason::kProtocolError);
  EXPECT_EQ(overloaded.error,
            "php-fpm refused the request: overloaded (FCGI_END_REQUEST protocol "
            "status 2)");
  EXPECT_NE(refused(ProtocolStatus::kCantMpxConn).error.find("cant_mpx_conn"), std::string::npos);
  EXPECT_NE(refused(ProtocolStatus::kUnknownRole).error.find("unknown_role"), std::string::npos);
}

TEST(ResponseDecoderTest, StdoutOverTheLimitIsBodyTooLarge) {
  const ResponseLimits limits{1000, 16};
  const Outcome exact = Decode(Response(std::string(1000, 'a'), "", 300), {}, limits);
  EXPECT_EQ(exact.state, State::kComplete);
  const Outcome over = Decode(Response(std::string(1001, 'a'), "", 300), {}, limits);
  EXPECT_EQ(over.state, State::kError);
  EXPECT_EQ(over.reason, Reason::kBodyTooLarge);
  EXPECT_EQ(over.error, "FCGI_STDOUT exceeds the limit of 1000 bytes");
  EXPECT_EQ(over.out.size(), 900u);  // whole records only; the one crossing the limit is refused
}

TEST(ResponseDecoderTest, EndlessStreamsStayBounded) {
  ResponseDecoder decoder(1, ResponseLimits{64 * 1024, 4096});
  const std::string err = Record(RecordType::kStderr, 1, std::string(1000, 'e'));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(decoder.Feed(err), State::kNeedMore);
  EXPECT_EQ(decoder.stderr_bytes().size(), 4096u);
  EXPECT_EQ(decoder.stderr_dropped_bytes(), 1000u * 1000 - 4096);
  const std::string out = Record(RecordType::kStdout, 1, std::string(1000, 'o'));
  size_t fed = 0;
  while (decoder.Feed(out) == State::kNeedMore) {
    ++fed;
    ASSERT_LT(fed, 1000u) << "the limit never tripped";
  }
  EXPECT_EQ(decoder.reason(), Reason::kBodyTooLarge);
  EXPECT_EQ(decoder.stdout_bytes().size(), 65000u);
  EXPECT_EQ(decoder.Feed(out), State::kError);  // input after an error is ignored
  EXPECT_EQ(decoder.stdout_bytes().size(), 65000u);
}

TEST(ResponseDecoderTest, BytesAfterEndRequestAreCountedAndIgnored) {
  ResponseDecoder decoder(1);
  EXPECT_EQ(decoder.Feed(Response("x") + "junk"), State::kComplete);
  EXPECT_EQ(decoder.Feed("more"), State::kComplete);
  EXPECT_EQ(decoder.trailing_bytes(), 8u);
  EXPECT_EQ(decoder.stdout_bytes(), "x");
}

// --- CGI split -------------------------------------------------------------------------------

TEST(ParseCgiResponseTest, StatusHeaderSetsTheCode) {
  const auto cgi = ParseCgiResponse(kCgi);
  ASSERT_TRUE(cgi.ok()) << cgi.status().message();
  EXPECT_EQ(cgi->status, 503);
  ASSERT_EQ(cgi->headers.size(), 1u);  // Status is not repeated among the headers
  EXPECT_EQ(cgi->Header("content-type"), "text/plain");
  EXPECT_EQ(cgi->body, "busy, retry");
}

TEST(ParseCgiResponseTest, NoStatusMeans200AndBareNewlinesWork) {
  const auto cgi = ParseCgiResponse("Content-type: text/plain\nX-A:  b \n\npong\n\nmore");
  ASSERT_TRUE(cgi.ok()) << cgi.status().message();
  EXPECT_EQ(cgi->status, 200);
  EXPECT_EQ(cgi->Header("X-A"), "b");
  EXPECT_EQ(cgi->Header("Missing"), "");
  EXPECT_EQ(cgi->body, "pong\n\nmore");
  const auto no_headers = ParseCgiResponse("\r\nbody: not a header\n");
  ASSERT_TRUE(no_headers.ok());
  EXPECT_TRUE(no_headers->headers.empty());
  EXPECT_EQ(no_headers->body, "body: not a header\n");
  const auto empty_body = ParseCgiResponse("Status: 204\r\n\r\n");
  ASSERT_TRUE(empty_body.ok());
  EXPECT_EQ(empty_body->status, 204);
  EXPECT_EQ(empty_body->body, "");
}

TEST(ParseCgiResponseTest, RejectsMalformedHeads) {
  const auto error = [](std::string_view bytes) {
    const auto cgi = ParseCgiResponse(bytes);
    EXPECT_FALSE(cgi.ok()) << bytes;
    return cgi.status().message();
  };
  EXPECT_EQ(error("Content-Type: text/plain\r\npong"),
            "no empty line after the CGI headers (30 bytes)");
  EXPECT_EQ(error(""), "no empty line after the CGI headers (0 bytes)");
  EXPECT_EQ(error("Status: abc\r\n\r\n"), "malformed CGI Status header \"abc\"");
  EXPECT_EQ(error("Status: 5030\r\n\r\n"), "malformed CGI Status header \"5030\"");
  EXPECT_EQ(error("Status: 99\r\n\r\n"), "malformed CGI Status header \"99\"");
  EXPECT_EQ(error("Status: 200\r\nStatus: 200\r\n\r\n"), "two CGI Status headers");
  EXPECT_EQ(error("<html>\r\n\r\n"), "malformed CGI header line \"<html>\"");
  EXPECT_EQ(error("Bad Name: x\r\n\r\n"), "malformed CGI header line \"Bad Name: x\"");
  const std::string long_head = "X: " + std::string(kMaxCgiHeadBytes, 'x') + "\r\n\r\nbody";
  EXPECT_EQ(error(long_head), "CGI headers longer than 65536 bytes without an empty line");
}

// --- Real php-fpm outputs --------------------------------------------------------------------

TEST(FastCgiFixturesTest, PhpFpmOutputsDecodeAndSplit) {
  struct Case {
    std::string fcgi, body, content_type;
  };
  const Case cases[] = {
      {"tcp_ping.fcgi", "pong", "text/plain;charset=UTF-8"},
      {"www_status_json.fcgi", fake::Testdata("www_status_json.body"), "application/json"},
  };
  for (const Case& c : cases) {
    const std::string cgi = fake::Testdata(c.fcgi);
    ASSERT_FALSE(cgi.empty()) << c.fcgi;
    const std::string bytes = Response(cgi, "", 61);
    const Outcome outcome = Decode(bytes, std::vector<size_t>(bytes.size() / 7, 7));
    ASSERT_EQ(outcome.state, State::kComplete) << c.fcgi << ": " << outcome.error;
    const auto response = ParseCgiResponse(outcome.out);
    ASSERT_TRUE(response.ok()) << c.fcgi << ": " << response.status().message();
    EXPECT_EQ(response->status, 200) << c.fcgi;
    EXPECT_EQ(response->Header("Content-Type"), c.content_type) << c.fcgi;
    EXPECT_EQ(response->body, c.body) << c.fcgi;
    for (size_t cut = 0; cut < bytes.size(); cut += 5) {
      EXPECT_EQ(DecodeWhole(bytes.substr(0, cut)).state, State::kError) << c.fcgi << " cut " << cut;
    }
  }
}

}  // namespace
}  // namespace sre::exporters::php_fpm
