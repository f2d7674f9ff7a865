#include "exporters/php_fpm/socket_discovery.h"

#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>

#include <cstring>

namespace sre::exporters::php_fpm {
namespace {

thread_local int glob_error = 0;

int OnGlobError(const char* /*path*/, int error) {
  // ENOENT and ENOTDIR mean "nothing there", which is a normal answer here.
  if (error == ENOENT || error == ENOTDIR) return 0;
  glob_error = error;
  return 1;
}

}  // namespace

Result<std::vector<std::string>> FindSockets(const std::string& pattern) {
  glob_t matches{};
  glob_error = 0;
  const int rc = glob(pattern.c_str(), GLOB_ERR, OnGlobError, &matches);
  // With GLOB_ERR, glibc aborts on any unreadable directory even when the callback forgave it
  // (a missing /run/php): only an error the callback kept is one.
  if (rc == GLOB_ABORTED && glob_error != 0) {
    globfree(&matches);
    return Status::Error(fmt::format("socket_glob {}: cannot read a directory: {}", pattern,
                                     std::strerror(glob_error)));
  }
  std::vector<std::string> sockets;
  for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) {
    struct stat info {};
    if (stat(matches.gl_pathv[i], &info) == 0 && S_ISSOCK(info.st_mode)) {
      sockets.emplace_back(matches.gl_pathv[i]);
    }
  }
  globfree(&matches);
  return sockets;  // glob sorts its matches
}

}  // namespace sre::exporters::php_fpm
