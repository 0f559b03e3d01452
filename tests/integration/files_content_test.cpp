// GET /v1/files/{id}/content of a ~40 MB file, from the real binary as a child process (so that
// its /proc entry is the gateway's alone), over each store: SQLite's data_dir and a real
// redis-server. The body goes out a piece at a time after the header: the gateway's peak RSS
// while a reader stalls grows by far less than the file; the stalled reader does not hold up
// other requests on the same single worker; the bytes arrive whole and in order; and a reader
// that disconnects mid-body frees its connection.
#include "batch_client.hpp"
#include "gateway_process.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <random>
#include <sstream>

namespace switchyard::test {
namespace {

// A /proc/PID/status value in KiB ("VmRSS", "VmHWM"); -1 when missing.
long status_kib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string k;
  while (in >> k) {
    if (k == key + ":") {
      long v = 0;
      in >> v;
      return v;
    }
    std::getline(in, k);
  }
  return -1;
}

// Resets the peak RSS (VmHWM) to the current RSS: proc(5), /proc/PID/clear_refs, value 5.
void reset_peak(pid_t pid) {
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

// The inode of the gateway's end of the TCP connection from client port `peer` to `port`, from
// /proc/net/tcp (proc(5): "local_address rem_address st ... inode", ports in hex); 0 if none.
unsigned long server_socket_inode(std::uint16_t port, std::uint16_t peer) {
  std::ifstream in("/proc/net/tcp");
  std::string row;
  std::getline(in, row);  // the column names
  while (std::getline(in, row)) {
    std::istringstream fields(row);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    auto port_of = [](const std::string& address) {
      return static_cast<std::uint16_t>(
          std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (local.find(':') != std::string::npos && remote.find(':') != std::string::npos &&
        port_of(local) == port && port_of(remote) == peer) {
      return inode;
    }
  }
  return 0;
}

// Whether process `pid` has a descriptor open on socket `inode` (/proc/PID/fd/N links to
// "socket:[inode]").
bool holds_socket(pid_t pid, unsigned long inode) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string want = "socket:[" + std::to_string(inode) + "]";
  bool found = false;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      char link[128];
      const auto n = ::readlink((dir + "/" + e->d_name).c_str(), link, sizeof link - 1);
      found = found || (n > 0 && std::string_view(link, static_cast<std::size_t>(n)) == want);
    }
    ::closedir(d);
  }
  return found;
}

// A raw reader of one GET: the request written, then the response read in pieces the test
// chooses, every read bounded by a 10 s receive timeout.
class raw_reader {
 public:
  raw_reader(std::uint16_t port, const std::string& target) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    const timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // A small receive buffer, so that a stalled reader stalls the writer soon.
    const int small = 64 * 1024;
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    net::write(socket_, net::buffer("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  /// Reads up to `n` more bytes (fewer at the end or on a timeout); what it read.
  std::string read(std::size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      beast::error_code ec;
      const auto got =
          socket_.read_some(net::buffer(buf, std::min(sizeof buf, n - out.size())), ec);
      out.append(buf, got);
      if (ec) {
        break;
      }
    }
    return out;
  }
  std::uint16_t local_port() const { return socket_.local_endpoint().port(); }
  void close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
};

class files_content : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string cfg = batch_gateway_yaml(up.fake.port(), dir.path);
    if (GetParam() == "redis") {
      redis = std::make_unique<redis_server>();
      cfg += "store: { type: redis, url: \"" + redis->url() + "\", key_prefix: \"fc:\" }\n";
    }
    const std::string path = dir.path + "/switchyard.yaml";
    std::ofstream(path) << cfg;
    child = std::make_unique<gateway_process>(SWITCHYARD_BINARY, path);
    port = child->wait_for_port(20s);
    ASSERT_NE(port, 0) << "no listening line; stderr:\n" << child->output();
  }
  temp_dir dir;
  counting_upstream up;
  std::unique_ptr<redis_server> redis;
  std::unique_ptr<gateway_process> child;
  std::uint16_t port = 0;
};

TEST_P(files_content, a_forty_megabyte_file_streams_in_bounded_memory_past_a_slow_reader) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS bounds are meaningless under AddressSanitizer (its quarantine)";
#endif
  const std::string pad(960, 'p');
  std::string file;
  for (int i = 0; file.size() < 40u << 20; ++i) {
    file += line("s-" + std::to_string(i) + "-" + pad) + "\n";
  }
  const pid_t pid = child->pid();
  const long file_kib = static_cast<long>(file.size() >> 10);
  const long start_kib = status_kib(pid, "VmRSS");
  const auto id = upload(port, file);
  const std::string target = "/v1/files/" + id + "/content";
  // The upload's body is freed when its connection ends (just after the answer): wait for it,
  // so that what follows measures the download alone.
  EXPECT_TRUE(eventually([&] { return status_kib(pid, "VmRSS") - start_kib < file_kib / 4; }, 5s))
      << "RSS still " << status_kib(pid, "VmRSS") - start_kib << " KiB above the start after "
      << "the upload";

  reset_peak(pid);
  const long base_kib = status_kib(pid, "VmHWM");
  raw_reader slow(port, target);
  std::string got = slow.read(1 << 20);  // the header and the first MiB, then a stall
  const auto head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << got.substr(0, 200);
  EXPECT_NE(got.substr(0, head_end).find("Content-Length: " + std::to_string(file.size())),
            std::string::npos)
      << got.substr(0, head_end);
  got.erase(0, head_end + 4);

  // While it stalls, the only worker answers others: metadata, a proxied chat completion.
  {
    client c(port, 5s);
    const auto start = steady_clock::now();
    EXPECT_EQ(c.request(http::verb::get, "/v1/files/" + id).status, 200u);
    EXPECT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
    EXPECT_LT(steady_clock::now() - start, 2s);
  }
  const long stalled_peak_kib = status_kib(pid, "VmHWM");

  // The rest, whole and in order.
  got += slow.read(file.size() - got.size());
  ASSERT_EQ(got.size(), file.size());
  EXPECT_TRUE(got == file) << "the content differs from what was uploaded";
  const long peak_kib = status_kib(pid, "VmHWM");
  slow.close();
  EXPECT_LT(stalled_peak_kib - base_kib, file_kib / 4)
      << "RSS grew by " << stalled_peak_kib - base_kib << " KiB while the reader stalled ("
      << file_kib << " KiB file)";
  EXPECT_LT(peak_kib - base_kib, file_kib / 4)
      << "RSS grew by " << peak_kib - base_kib << " KiB serving a " << file_kib << " KiB file";
  std::cout << "[ figures  ] " << GetParam() << ": RSS " << base_kib << " KiB before, peak +"
            << peak_kib - base_kib << " KiB while serving " << file_kib << " KiB\n";

  // A reader that leaves mid-body: the gateway closes its end of that connection.
  {
    raw_reader leaver(port, target);
    EXPECT_GE(leaver.read(2 << 20).size(), 1u << 20);
    const unsigned long inode = server_socket_inode(port, leaver.local_port());
    ASSERT_NE(inode, 0u) << "the connection is not in /proc/net/tcp";
    ASSERT_TRUE(holds_socket(pid, inode));
    leaver.close();
    EXPECT_TRUE(eventually([&] { return !holds_socket(pid, inode); }, 5s))
        << "the gateway still holds the socket of a reader that left mid-body";
  }
  client after(port, 5s);
  EXPECT_EQ(after.request(http::verb::get, "/v1/files/" + id).status, 200u);
}

INSTANTIATE_TEST_SUITE_P(stores, files_content, ::testing::Values("sqlite", "redis"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace switchyard::test
