#include "tests/support/dnsmasq.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/support/loopback_servers.h"

extern char** environ;

namespace sre::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

/// A port free for both UDP and TCP on 127.0.0.1 right now (0 when none was found).
uint16_t FreeDnsPort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = Loopback(0);
    if (bind(udp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) continue;
    socklen_t length = sizeof address;
    getsockname(udp.get(), reinterpret_cast<sockaddr*>(&address), &length);
    UniqueFd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (bind(tcp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      return ntohs(address.sin_port);
    }
  }
  return 0;
}

/// A DNS query for `name` type A, id `id`.
std::string Query(const std::string& name, uint16_t id) {
  std::string packet = {static_cast<char>(id >> 8),
                        static_cast<char>(id & 0xff),
                        0x01,
                        0x00,  // recursion desired
                        0x00,
                        0x01,  // one question
                        0x00,
                        0x00,
                        0x00,
                        0x00,
                        0x00,
                        0x00};
  std::istringstream labels(name);
  for (std::string label; std::getline(labels, label, '.');) {
    packet += static_cast<char>(label.size());
    packet += label;
  }
  packet += std::string("\0\0\x01\0\x01", 5);  // root, type A, class IN
  return packet;
}

/// One query to 127.0.0.1:port, waiting up to 200 ms: true when a response came back.
bool Answers(uint16_t port, const std::string& name) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const sockaddr_in address = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return false;
  }
  const std::string query = Query(name, 0x5e5e);
  if (send(fd.get(), query.data(), query.size(), 0) < 0) return false;
  pollfd pfd{fd.get(), POLLIN, 0};
  if (poll(&pfd, 1, 200) <= 0) return false;
  unsigned char reply[512];
  const ssize_t n = recv(fd.get(), reply, sizeof reply, MSG_DONTWAIT);
  // Same id, QR bit set. (A refused port reports ECONNREFUSED here: not ready yet.)
  return n >= 12 && reply[0] == 0x5e && reply[1] == 0x5e && (reply[2] & 0x80) != 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

bool Dnsmasq::Available() { return access(kBinary, X_OK) == 0; }

Dnsmasq::Dnsmasq(const std::string& hosts, const std::string& probe_name) {
  const std::string hosts_file = dir_.WriteFile("hosts", hosts);
  // The port is free when chosen but may be taken before dnsmasq binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    error_.clear();
    if (Start(hosts_file, probe_name, &error_)) return;
    Stop();
  }
}

Dnsmasq::~Dnsmasq() { Stop(); }

bool Dnsmasq::Start(const std::string& hosts_file, const std::string& probe_name,
                    std::string* error) {
  port_ = FreeDnsPort();
  if (port_ == 0) {
    *error = "no free port on 127.0.0.1";
    return false;
  }
  const std::string log_file = dir_.path() + "/dnsmasq.log";
  std::vector<std::string> args = {
      kBinary,
      "--no-daemon",
      "--port=" + std::to_string(port_),
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--addn-hosts=" + hosts_file,
      // Hermetic: no /etc/dnsmasq.conf, no pid file in /run, names under .test answered here
      // only (an unknown one is NXDOMAIN rather than REFUSED).
      "--conf-file=/dev/null",
      "--pid-file",
      "--local=/test/",
  };
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const int rc = posix_spawn(&pid_, kBinary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    *error = std::string("posix_spawn ") + kBinary + ": " + std::strerror(rc);
    return false;
  }

  // Poll a real query until dnsmasq answers, it exits, or 10 s pass.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "dnsmasq exited at start-up: " + ReadAll(log_file);
      return false;
    }
    if (Answers(port_, probe_name)) return true;
    poll(nullptr, 0, 20);  // a refused query returns at once: pace the polling
  }
  *error = "dnsmasq did not answer within 10 s: " + ReadAll(log_file);
  return false;
}

void Dnsmasq::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace sre::testing
