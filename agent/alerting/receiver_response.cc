#include "agent/alerting/receiver_response.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

// What a receiver's answer means: what a status says, how long Retry-After asks to wait, what
// to log.
namespace sre::alerting {
namespace {

using nlohmann::json;

// An error body that is JSON but neither string nor object, as text; never throws.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// RFC 9110 5.6.7 HTTP-date, all three forms a recipient must accept: IMF-fixdate
// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
// `Sun Nov  6 08:49:37 1994`. In each the first number is the day and the second the year.
std::optional<double> ParseHttpDate(std::string_view text, double now_unix) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm t{};
  int month = -1, numbers[2] = {-1, -1}, count = 0, tokens = 0;
  bool time_seen = false;
  while (!text.empty()) {
    const size_t end = std::min(text.find_first_of(" ,-"), text.size());
    const std::string_view token = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (token.empty()) continue;
    auto found = std::find(std::begin(kMonths), std::end(kMonths), token);
    if (AllDigits(token) && token.size() <= 4 && count < 2) {
      numbers[count++] = std::stoi(std::string(token));
    } else if (found != std::end(kMonths)) {
      month = static_cast<int>(found - std::begin(kMonths));
    } else if (token.size() == 8 && token[2] == ':' && token[5] == ':' &&
               AllDigits(token.substr(0, 2)) && AllDigits(token.substr(3, 2)) &&
               AllDigits(token.substr(6, 2))) {
      t.tm_hour = std::stoi(std::string(token.substr(0, 2)));
      t.tm_min = std::stoi(std::string(token.substr(3, 2)));
      t.tm_sec = std::stoi(std::string(token.substr(6, 2)));
      time_seen = true;
    } else if (token != "GMT" && tokens != 0) {
      return std::nullopt;  // only the leading day name may be other text
    }
    ++tokens;
  }
  if (month < 0 || count != 2 || !time_seen || numbers[0] < 1 || numbers[0] > 31 ||
      t.tm_hour > 23 || t.tm_min > 59 || t.tm_sec > 60) {
    return std::nullopt;
  }
  int year = numbers[1];
  if (year < 100) {  // RFC 850: a year more than 50 years ahead is the past century's
    const int this_year = 1970 + static_cast<int>(now_unix / 31556952);
    year += 2000;
    if (year > this_year + 50) year -= 100;
  }
  t.tm_year = year - 1900;
  t.tm_mon = month;
  t.tm_mday = numbers[0];
  return static_cast<double>(timegm(&t));
}

Duration RetryAfter(std::string_view header, double now_unix) {
  header = Trim(header);
  double seconds = 0;
  if (AllDigits(header)) {
    seconds = header.size() > 9 ? 1e9 : std::stod(std::string(header));
  } else if (auto date = ParseHttpDate(header, now_unix)) {
    seconds = *date - now_unix;
  }
  if (!(seconds > 0)) return Duration(0);  // absent, invalid or past: the queue's backoff
  // Milliseconds: a date minus a double `now` carries float noise in the nanoseconds.
  return std::chrono::round<std::chrono::milliseconds>(
      std::chrono::duration<double>(std::min(seconds, ToSeconds(kMaxRetryAfter))));
}

// What the receiver said went wrong, as text: Alertmanager's errors are a JSON string
// (openapi.yaml: BadRequest schema type string), PagerDuty's an object with `message` and
// `errors` (Events API v2 responses), Slack's the bare code (`invalid_payload`, `no_service`).
std::string BodyText(std::string_view body) {
  body = Trim(body);
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_string()) return parsed.get<std::string>();
  if (parsed.is_object()) {
    std::string out;
    for (const char* key : {"message", "error"}) {
      auto it = parsed.find(key);
      if (it != parsed.end() && it->is_string()) {
        out += (out.empty() ? "" : ": ") + it->get<std::string>();
      }
    }
    auto errors = parsed.find("errors");
    for (size_t i = 0; errors != parsed.end() && errors->is_array() && i < errors->size(); ++i) {
      const json& error = (*errors)[i];
      out += (i == 0 ? (out.empty() ? "" : ": ") : "; ") +
             (error.is_string() ? error.get<std::string>() : Dump(error));
    }
    if (!out.empty()) return out;
  }
  if (!body.empty() && body.front() == '<') {  // an HTML error page, from a proxy most often
    const size_t open = body.find("<title>"), close = body.find("</title>");
    return open < close && close != std::string_view::npos
               ? std::string(body.substr(open + 7, close - open - 7))
               : "an HTML page";
  }
  return std::string(body);
}

// One line, no secret, at most ~200 bytes. A key can come back in an error ("invalid routing
// key ..."): the secret itself is cut out, and so is any run of 20 or more letters and digits
// mixing both (a Slack webhook token is 24, a PagerDuty routing key 32).
std::string Sanitize(std::string text, std::string_view secret) {
  // The whole secret, then each long piece of it: a body may echo just a URL's token.
  std::vector<std::string_view> pieces = {secret};
  for (size_t start = 0, end; start < secret.size(); start = end + 1) {
    end = std::min(secret.find_first_of("/?=&", start), secret.size());
    if (end - start >= 16) pieces.push_back(secret.substr(start, end - start));
  }
  for (std::string_view piece : pieces) {
    for (size_t at = 0; !piece.empty() && (at = text.find(piece, at)) != std::string::npos;) {
      text.replace(at, piece.size(), "<redacted>");
      at += 10;  // past "<redacted>", which may itself contain a short secret
    }
  }
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t j = i, digits = 0;
    while (j < text.size() && std::isalnum(static_cast<unsigned char>(text[j]))) {
      digits += std::isdigit(static_cast<unsigned char>(text[j++])) != 0;
    }
    if (j - i >= 20 && digits > 0 && digits < j - i) {
      out += "<redacted>";
    } else if (j > i) {
      out.append(text, i, j - i);
    } else {
      const unsigned char c = static_cast<unsigned char>(text[j++]);
      const bool blank = c < 0x20 || c == 0x7f || c == ' ';
      if (!blank) {
        out += static_cast<char>(c);
      } else if (!out.empty() && out.back() != ' ') {
        out += ' ';  // control characters and runs of blanks: one space
      }
    }
    i = j;
  }
  if (out.size() > 200) {
    size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + "…";
  }
  return std::string(Trim(out));
}

}  // namespace

Verdict ClassifyResponse(ReceiverKind kind, long http_status, std::string_view retry_after_header,
                         std::string_view body, double now_unix, std::string_view secret) {
  static constexpr std::string_view kNames[] = {"Alertmanager", "Slack", "PagerDuty", "webhook"};
  const std::string_view name = kNames[static_cast<int>(kind)];
  Verdict verdict;
  if (http_status < 100) {
    verdict.message = fmt::format("{} gave no HTTP answer", name);
    return verdict;
  }
  const std::string text = Sanitize(BodyText(body), secret);
  verdict.message =
      fmt::format("{} answered HTTP {}{}{}", name, http_status, text.empty() ? "" : ": ", text);
  // 2xx: Slack answers 200 "ok", PagerDuty 202 {"status":"success"}, Alertmanager 200.
  // PagerDuty's retry table: 429 and 5xx yes, 400 no; 408 is a timeout on the way.
  if (http_status >= 200 && http_status < 300) {
    verdict.outcome = Outcome::kDelivered;
  } else if (http_status == 408 || http_status == 429 || http_status >= 500) {
    verdict.outcome = Outcome::kRetry;
    verdict.retry_after = RetryAfter(retry_after_header, now_unix);
    if (verdict.retry_after > Duration(0)) {
      verdict.message +=
          fmt::format(" (Retry-After {}s)",
                      std::chrono::ceil<std::chrono::seconds>(verdict.retry_after).count());
    }
  } else {
    verdict.outcome = Outcome::kRejected;
  }
  return verdict;
}

}  // namespace sre::alerting
