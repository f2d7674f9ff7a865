#include "agent/net/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tests/support/test_pki.h"

namespace sre::net {
namespace {

// A listening unix socket at `path` with the given backlog; aborts the test on failure.
int Listen(const std::string& path, int backlog) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(listen(fd, backlog), 0);
  return fd;
}

TEST(UnixSocketTest, ConnectsOrSaysWhyNot) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/service.sock";
  const UnixConnect missing = ConnectUnix(path);
  EXPECT_EQ(missing.fd, -1);
  EXPECT_EQ(ReasonFromUnixConnect(missing.error), Reason::kNotPresent);
  EXPECT_EQ(ReasonFromUnixConnect(ConnectUnix(std::string(200, 'x')).error), Reason::kNotPresent);

  const int listener = Listen(path, 0);
  const UnixConnect connected = ConnectUnix(path);
  ASSERT_GE(connected.fd, 0) << std::strerror(connected.error);
  // Nobody accepts: the backlog fills, and a non-blocking connect then fails at once with
  // EAGAIN, which is a saturated service, not a missing one.
  std::vector<int> queued = {connected.fd};
  UnixConnect next;
  for (int i = 0; i < 64 && (next = ConnectUnix(path)).fd >= 0; ++i) queued.push_back(next.fd);
  EXPECT_EQ(next.error, EAGAIN);
  EXPECT_EQ(ReasonFromUnixConnect(next.error), Reason::kTimeout);
  for (const int fd : queued) close(fd);
  close(listener);
  unlink(path.c_str());
  EXPECT_EQ(ReasonFromUnixConnect(ConnectUnix(path).error), Reason::kNotPresent);
}

}  // namespace
}  // namespace sre::net
