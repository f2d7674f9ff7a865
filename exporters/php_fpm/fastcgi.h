#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/status.h"
#include "agent/core/reason.h"

// A FastCGI 1.0 client codec for asking php-fpm for its status and ping pages: request encoding,
// an incremental response decoder and the CGI header/body split. Pure (bytes in, bytes out, no
// I/O), so it is fuzzed on its own (tests/fuzz/fastcgi_fuzz.cc).

namespace sre::exporters::php_fpm {

/// Record types of FastCGI 1.0 (spec section 8).
enum class RecordType : uint8_t {
  kBeginRequest = 1,
  kAbortRequest = 2,
  kEndRequest = 3,
  kParams = 4,
  kStdin = 5,
  kStdout = 6,
  kStderr = 7,
  kData = 8,
  kGetValues = 9,
  kGetValuesResult = 10,
  kUnknownType = 11,
};

/// protocolStatus of FCGI_END_REQUEST.
enum class ProtocolStatus : uint8_t {
  kRequestComplete = 0,
  kCantMpxConn = 1,
  kOverloaded = 2,
  kUnknownRole = 3,
};

inline constexpr uint8_t kFastCgiVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 8;
/// The largest content a record header can announce.
inline constexpr size_t kMaxRecordContent = 0xffff;
/// The content size EncodeRequest splits PARAMS at: a multiple of 8, so content plus padding
/// stays within 0xffff, which php-fpm requires of every record it reads (main/fastcgi.c).
inline constexpr size_t kParamsRecordContent = 0xfff8;

using Params = std::vector<std::pair<std::string, std::string>>;

/// Appends one record: the 8-byte header, `content` (at most kMaxRecordContent bytes) and zero
/// padding up to a multiple of 8 bytes.
void AppendRecord(std::string& out, RecordType type, uint16_t request_id, std::string_view content);

/// The bytes a client sends for one responder request: FCGI_BEGIN_REQUEST (role FCGI_RESPONDER,
/// flags 0: php-fpm closes the connection after answering), the name-value pairs in FCGI_PARAMS
/// records, an empty FCGI_PARAMS record and an empty FCGI_STDIN record. Lengths below 128 take
/// one byte, longer ones four (high bit set). Pairs are packed whole into records of at most
/// kParamsRecordContent bytes; only a pair larger than that spans records, which the spec allows
/// but php-fpm rejects (it decodes each PARAMS record on its own), so keep params small.
/// Names and values must be shorter than 2^31 bytes.
std::string EncodeRequest(uint16_t request_id, const Params& params);

/// Bounds on what a ResponseDecoder keeps.
struct ResponseLimits {
  /// Total FCGI_STDOUT content; more is a kBodyTooLarge error.
  size_t max_stdout_bytes = size_t{4} << 20;
  /// FCGI_STDERR content kept; the rest is counted in stderr_dropped_bytes() and dropped.
  size_t max_stderr_bytes = size_t{4} << 10;
};

/// Decodes php-fpm's answer to one request from bytes that arrive in arbitrary pieces. Accepts
/// FCGI_STDOUT, FCGI_STDERR and FCGI_END_REQUEST records for `request_id`, with padding; anything
/// else is an error (php-fpm does not multiplex, and a client that sent no management record
/// expects none back). Empty STDOUT/STDERR records (stream ends) are accepted but not required:
/// php-fpm goes straight from its last STDOUT record to END_REQUEST. The answer is complete when
/// the END_REQUEST record, padding included, has arrived; bytes after it are counted in
/// trailing_bytes() and ignored (the answer is whole; with keep-alive off php-fpm sends nothing
/// more). Memory stays bounded for an endless stream: STDOUT up to its limit, STDERR up to its
/// limit, and a fixed few bytes of framing; content is never buffered per record.
/// Not thread-safe.
class ResponseDecoder {
 public:
  enum class State {
    kNeedMore,  ///< the answer is not complete; feed more bytes (or FeedEof)
    kComplete,  ///< END_REQUEST with FCGI_REQUEST_COMPLETE arrived
    kError,     ///< see reason() and error(); further input is ignored
  };

  explicit ResponseDecoder(uint16_t request_id, ResponseLimits limits = ResponseLimits());

  /// Consumes the next bytes of the connection.
  State Feed(std::string_view bytes);
  /// The peer closed the connection: before the END_REQUEST record this is a protocol error
  /// ("truncated: connection closed after N bytes ..." saying where in a record it happened).
  State FeedEof();

  State state() const { return state_; }
  /// kNone unless state() is kError; then kProtocolError (malformed or refused) or kBodyTooLarge.
  Reason reason() const { return reason_; }
  /// What went wrong, for logs; empty unless state() is kError.
  const std::string& error() const { return error_; }

  /// The FCGI_STDOUT content so far: CGI headers and body. (Not named stdout(): that is a macro
  /// in <cstdio> on some C libraries.)
  const std::string& stdout_bytes() const { return stdout_; }
  /// The first ResponseLimits::max_stderr_bytes of FCGI_STDERR content.
  const std::string& stderr_bytes() const { return stderr_; }
  uint64_t stderr_dropped_bytes() const { return stderr_dropped_; }
  /// appStatus of END_REQUEST (the script's exit status); 0 until it arrives.
  uint32_t app_status() const { return app_status_; }
  /// Bytes fed after the END_REQUEST record.
  uint64_t trailing_bytes() const { return trailing_bytes_; }
  /// All bytes fed so far.
  uint64_t bytes_fed() const { return bytes_fed_; }

 private:
  enum class Phase { kHeader, kContent, kPadding };

  void StartRecord();
  void ConsumeContent(std::string_view content);
  void EndRecord();
  void Fail(Reason reason, std::string message);

  const uint16_t request_id_;
  const ResponseLimits limits_;
  State state_ = State::kNeedMore;
  Reason reason_ = Reason::kNone;
  std::string error_;

  Phase phase_ = Phase::kHeader;
  uint8_t header_[kRecordHeaderBytes] = {};
  size_t header_fill_ = 0;
  RecordType type_ = RecordType::kStdout;
  size_t content_left_ = 0;
  size_t padding_left_ = 0;
  uint8_t end_body_[8] = {};
  size_t end_body_fill_ = 0;

  std::string stdout_;
  std::string stderr_;
  uint64_t stderr_dropped_ = 0;
  uint32_t app_status_ = 0;
  uint64_t trailing_bytes_ = 0;
  uint64_t bytes_fed_ = 0;
};

/// A CGI response split into its parts. Views into the bytes given to ParseCgiResponse, which
/// must outlive it.
struct CgiResponse {
  /// From the "Status: 503 Service Unavailable" header; 200 without one.
  int status = 200;
  /// Header lines in order, names as sent, values without surrounding blanks; Status excluded.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;

  /// The first header named `name` (ASCII case-insensitive); empty when absent.
  std::string_view Header(std::string_view name) const;
};

/// The CGI head (headers up to the first empty line) may not be longer than this.
inline constexpr size_t kMaxCgiHeadBytes = 64 * 1024;

/// Splits FCGI_STDOUT content into headers and body (RFC 3875 section 6). Lines end in "\r\n"
/// or "\n"; the head ends at the first empty line. Errors (all protocol errors for the caller):
/// no empty line, a head over kMaxCgiHeadBytes, a line that is not "Name: value", a Status that
/// is not a 3-digit code in 100..599 (optionally followed by a space and a reason phrase), or two
/// Status headers. A Location header does not imply 302: php-fpm sends Status itself.
Result<CgiResponse> ParseCgiResponse(std::string_view stdout_bytes);

}  // namespace sre::exporters::php_fpm
