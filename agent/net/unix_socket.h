#pragma once

#include <string>

#include "agent/core/reason.h"

namespace sre::net {

/// A non-blocking, close-on-exec connect to the unix stream socket at `path`: the connected
/// socket, or the errno (ENAMETOOLONG for a path that does not fit sockaddr_un). A unix connect
/// finishes at once: there is no EINPROGRESS to wait for, and EAGAIN means the listener's
/// backlog is full, not "try later on this socket".
struct UnixConnect {
  int fd = -1;
  int error = 0;
};
UnixConnect ConnectUnix(const std::string& path);

/// The reason for a unix connect's errno: no socket at the path (ENOENT, ENOTDIR, ENAMETOOLONG)
/// is kNotPresent, the service is not on this node; a full backlog (EAGAIN) is kTimeout, the
/// service is saturated; the rest as ReasonFromErrno.
Reason ReasonFromUnixConnect(int error);

}  // namespace sre::net
