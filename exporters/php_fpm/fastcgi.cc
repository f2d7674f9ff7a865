#include "exporters/php_fpm/fastcgi.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace sre::exporters::php_fpm {
namespace {

constexpr uint8_t kRoleResponder = 1;

/// A name-value length: one byte below 128, else four bytes big-endian with the high bit set.
void AppendLength(std::string& out, size_t length) {
  assert(length <= 0x7fffffff);
  if (length < 128) {
    out.push_back(static_cast<char>(length));
    return;
  }
  out.push_back(static_cast<char>(0x80 | ((length >> 24) & 0x7f)));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
}

std::string_view TypeName(uint8_t type) {
  static constexpr std::string_view kNames[] = {"",
                                                "FCGI_BEGIN_REQUEST",
                                                "FCGI_ABORT_REQUEST",
                                                "FCGI_END_REQUEST",
                                                "FCGI_PARAMS",
                                                "FCGI_STDIN",
                                                "FCGI_STDOUT",
                                                "FCGI_STDERR",
                                                "FCGI_DATA",
                                                "FCGI_GET_VALUES",
                                                "FCGI_GET_VALUES_RESULT",
                                                "FCGI_UNKNOWN_TYPE"};
  return type < std::size(kNames) ? kNames[type] : std::string_view();
}

std::string_view ProtocolStatusName(uint8_t status) {
  switch (static_cast<ProtocolStatus>(status)) {
    case ProtocolStatus::kRequestComplete:
      return "request_complete";
    case ProtocolStatus::kCantMpxConn:
      return "cant_mpx_conn";
    case ProtocolStatus::kOverloaded:
      return "overloaded";
    case ProtocolStatus::kUnknownRole:
      return "unknown_role";
  }
  return "unknown";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return lower(x) == lower(y);
  });
}

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// Peer bytes for an error message: at most 64, non-printable ones as '?'.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  out += text.size() > 64 ? "...\"" : "\"";
  return out;
}

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f; }

/// "503" or "503 Service Unavailable" → 503; false for anything else or outside 100..599.
bool ParseStatus(std::string_view value, int& status) {
  if (value.size() < 3 || (value.size() > 3 && value[3] != ' ')) return false;
  int code = 0;
  for (const char c : value.substr(0, 3)) {
    if (c < '0' || c > '9') return false;
    code = code * 10 + (c - '0');
  }
  if (code < 100 || code > 599) return false;
  status = code;
  return true;
}

}  // namespace

void AppendRecord(std::string& out, RecordType type, uint16_t request_id,
                  std::string_view content) {
  assert(content.size() <= kMaxRecordContent);
  const size_t padding = (8 - content.size() % 8) % 8;
  const char header[kRecordHeaderBytes] = {static_cast<char>(kFastCgiVersion),
                                           static_cast<char>(type),
                                           static_cast<char>(request_id >> 8),
                                           static_cast<char>(request_id & 0xff),
                                           static_cast<char>(content.size() >> 8),
                                           static_cast<char>(content.size() & 0xff),
                                           static_cast<char>(padding),
                                           0};
  out.append(header, sizeof(header));
  out.append(content);
  out.append(padding, '\0');
}

std::string EncodeRequest(uint16_t request_id, const Params& params) {
  std::string out;
  const char begin[8] = {0, static_cast<char>(kRoleResponder), 0 /* flags: no keep-alive */};
  AppendRecord(out, RecordType::kBeginRequest, request_id, std::string_view(begin, sizeof(begin)));
  std::string pending;  // the PARAMS record being filled
  std::string pair;
  for (const auto& [name, value] : params) {
    pair.clear();
    AppendLength(pair, name.size());
    AppendLength(pair, value.size());
    pair += name;
    pair += value;
    if (!pending.empty() && pending.size() + pair.size() > kParamsRecordContent) {
      AppendRecord(out, RecordType::kParams, request_id, pending);
      pending.clear();
    }
    std::string_view rest = pair;
    while (pending.size() + rest.size() > kParamsRecordContent) {  // a pair larger than a record
      const size_t take = kParamsRecordContent - pending.size();
      pending.append(rest.substr(0, take));
      rest.remove_prefix(take);
      AppendRecord(out, RecordType::kParams, request_id, pending);
      pending.clear();
    }
    pending.append(rest);
  }
  if (!pending.empty()) AppendRecord(out, RecordType::kParams, request_id, pending);
  AppendRecord(out, RecordType::kParams, request_id, {});
  AppendRecord(out, RecordType::kStdin, request_id, {});
  return out;
}

ResponseDecoder::ResponseDecoder(uint16_t request_id, ResponseLimits limits)
    : request_id_(request_id), limits_(limits) {}

ResponseDecoder::State ResponseDecoder::Feed(std::string_view bytes) {
  bytes_fed_ += bytes.size();
  while (state_ == State::kNeedMore && !bytes.empty()) {
    if (phase_ == Phase::kHeader) {
      const size_t take = std::min(kRecordHeaderBytes - header_fill_, bytes.size());
      std::memcpy(header_ + header_fill_, bytes.data(), take);
      header_fill_ += take;
      bytes.remove_prefix(take);
      if (header_fill_ == kRecordHeaderBytes) StartRecord();
    } else if (phase_ == Phase::kContent) {
      const size_t take = std::min(content_left_, bytes.size());
      content_left_ -= take;
      ConsumeContent(bytes.substr(0, take));
      bytes.remove_prefix(take);
    } else {
      const size_t take = std::min(padding_left_, bytes.size());
      padding_left_ -= take;
      bytes.remove_prefix(take);
    }
    if (state_ != State::kNeedMore || phase_ == Phase::kHeader) continue;
    if (phase_ == Phase::kContent && content_left_ == 0) phase_ = Phase::kPadding;
    if (phase_ == Phase::kPadding && padding_left_ == 0) EndRecord();
  }
  if (state_ == State::kComplete) trailing_bytes_ += bytes.size();
  return state_;
}

void ResponseDecoder::StartRecord() {
  const uint8_t version = header_[0];
  const uint8_t type = header_[1];
  const uint16_t id = static_cast<uint16_t>(header_[2] << 8 | header_[3]);
  const size_t content = static_cast<size_t>(header_[4] << 8 | header_[5]);
  header_fill_ = 0;
  if (version != kFastCgiVersion) {
    return Fail(Reason::kProtocolError,
                fmt::format("unsupported FastCGI version {} in a record header (want 1)", version));
  }
  type_ = static_cast<RecordType>(type);
  if (type_ != RecordType::kStdout && type_ != RecordType::kStderr &&
      type_ != RecordType::kEndRequest) {
    const std::string_view name = TypeName(type);
    return Fail(Reason::kProtocolError,
                name.empty() ? fmt::format("unexpected record type {}", type)
                             : fmt::format("unexpected record type {} ({})", type, name));
  }
  if (id != request_id_) {
    return Fail(Reason::kProtocolError, fmt::format("{} record for request id {}, expected {}",
                                                    TypeName(type), id, request_id_));
  }
  if (type_ == RecordType::kEndRequest && content != sizeof(end_body_)) {
    return Fail(Reason::kProtocolError,
                fmt::format("FCGI_END_REQUEST record with {} content bytes, want 8", content));
  }
  if (type_ == RecordType::kStdout && content > limits_.max_stdout_bytes - stdout_.size()) {
    // Refused before any of it is buffered: stdout_ never exceeds the limit.
    return Fail(Reason::kBodyTooLarge,
                fmt::format("FCGI_STDOUT exceeds the limit of {} bytes", limits_.max_stdout_bytes));
  }
  content_left_ = content;
  padding_left_ = header_[6];
  end_body_fill_ = 0;
  phase_ = Phase::kContent;
}

void ResponseDecoder::ConsumeContent(std::string_view content) {
  switch (type_) {
    case RecordType::kStdout:
      stdout_.append(content);  // StartRecord checked the limit for the whole record
      break;
    case RecordType::kStderr: {
      const size_t keep = std::min(content.size(), limits_.max_stderr_bytes - stderr_.size());
      stderr_.append(content.substr(0, keep));
      stderr_dropped_ += content.size() - keep;
      break;
    }
    default:  // kEndRequest: StartRecord checked the content is 8 bytes
      std::memcpy(end_body_ + end_body_fill_, content.data(), content.size());
      end_body_fill_ += content.size();
      break;
  }
}

void ResponseDecoder::EndRecord() {
  phase_ = Phase::kHeader;
  if (type_ != RecordType::kEndRequest) return;
  app_status_ = static_cast<uint32_t>(end_body_[0]) << 24 |
                static_cast<uint32_t>(end_body_[1]) << 16 |
                static_cast<uint32_t>(end_body_[2]) << 8 | end_body_[3];
  const uint8_t protocol_status = end_body_[4];
  if (protocol_status != static_cast<uint8_t>(ProtocolStatus::kRequestComplete)) {
    return Fail(Reason::kProtocolError,
                fmt::format("php-fpm refused the request: {} (FCGI_END_REQUEST protocol status {})",
                            ProtocolStatusName(protocol_status), protocol_status));
  }
  state_ = State::kComplete;
}

ResponseDecoder::State ResponseDecoder::FeedEof() {
  if (state_ != State::kNeedMore) return state_;
  std::string where;
  if (phase_ == Phase::kHeader && header_fill_ == 0) {
    where = bytes_fed_ == 0 ? "before any record" : "between records, before FCGI_END_REQUEST";
  } else if (phase_ == Phase::kHeader) {
    where = fmt::format("inside a record header ({} of 8 bytes)", header_fill_);
  } else if (phase_ == Phase::kContent) {
    where = fmt::format("inside the content of an {} record ({} bytes missing)",
                        TypeName(static_cast<uint8_t>(type_)), content_left_);
  } else {
    where = fmt::format("inside the padding of an {} record ({} bytes missing)",
                        TypeName(static_cast<uint8_t>(type_)), padding_left_);
  }
  Fail(Reason::kProtocolError,
       fmt::format("truncated: connection closed after {} bytes, {}", bytes_fed_, where));
  return state_;
}

void ResponseDecoder::Fail(Reason reason, std::string message) {
  state_ = State::kError;
  reason_ = reason;
  error_ = std::move(message);
}

std::string_view CgiResponse::Header(std::string_view name) const {
  for (const auto& [header, value] : headers) {
    if (EqualsIgnoreCase(header, name)) return value;
  }
  return {};
}

Result<CgiResponse> ParseCgiResponse(std::string_view stdout_bytes) {
  // Newlines are searched for in the first kMaxCgiHeadBytes only: a body without an empty line
  // before it is never scanned whole.
  const std::string_view window = stdout_bytes.substr(0, kMaxCgiHeadBytes);
  CgiResponse response;
  bool have_status = false;
  size_t pos = 0;
  while (true) {
    const size_t newline = window.find('\n', pos);
    if (newline == std::string_view::npos) {
      if (stdout_bytes.size() > window.size()) {
        return Status::Error(fmt::format("CGI headers longer than {} bytes without an empty line",
                                         kMaxCgiHeadBytes));
      }
      return Status::Error(
          fmt::format("no empty line after the CGI headers ({} bytes)", stdout_bytes.size()));
    }
    std::string_view line = window.substr(pos, newline - pos);
    pos = newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || name.empty() ||
        !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return Status::Error(fmt::format("malformed CGI header line {}", Quote(line)));
    }
    const std::string_view value = TrimBlanks(line.substr(colon + 1));
    if (!EqualsIgnoreCase(name, "Status")) {
      response.headers.emplace_back(name, value);
      continue;
    }
    if (have_status) return Status::Error("two CGI Status headers");
    if (!ParseStatus(value, response.status)) {
      return Status::Error(fmt::format("malformed CGI Status header {}", Quote(value)));
    }
    have_status = true;
  }
  response.body = stdout_bytes.substr(pos);
  return response;
}

}  // namespace sre::exporters::php_fpm
