#include "agent/server/http_test_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sre::server {
namespace {

class CurlEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); }
  void TearDown() override { curl_global_cleanup(); }
};
const auto* const kCurlEnvironment = ::testing::AddGlobalTestEnvironment(new CurlEnvironment);

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  std::string line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * count;
}

/// Streams a body with no declared size, so curl sends it chunked.
struct ChunkedSource {
  std::string data;
  size_t offset = 0;
};
size_t ReadChunk(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<ChunkedSource*>(user);
  size_t n = std::min(size * count, std::min<size_t>(1000, source->data.size() - source->offset));
  std::memcpy(buffer, source->data.data() + source->offset, n);
  source->offset += n;
  return n;
}

}  // namespace

Reply Fetch(const std::string& url, const FetchOptions& options) {
  Reply reply;
  CURL* curl = options.handle != nullptr ? options.handle : curl_easy_init();
  curl_slist* headers = nullptr;
  for (const std::string& header : options.headers)
    headers = curl_slist_append(headers, header.c_str());
  ChunkedSource source;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  if (options.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (options.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, options.method.c_str());
  }
  if (options.body && options.chunked) {
    source.data = *options.body;
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadChunk);
    curl_easy_setopt(curl, CURLOPT_READDATA, &source);
  } else if (options.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(options.body->size()));
  }
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.user_password.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERPWD, options.user_password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  reply.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (options.handle == nullptr) curl_easy_cleanup(curl);
  return reply;
}

}  // namespace sre::server
