#include "fake_upstream.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <zlib.h>

#include <cstdio>

namespace switchyard::test {

namespace {

// Cuts `bytes` at 0–3 random points.
void cut_randomly(std::string_view bytes, std::mt19937& rng, std::vector<std::string>& out) {
  std::vector<std::size_t> cuts;
  const int n = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < n && bytes.size() > 1; ++i) {
    cuts.push_back(std::uniform_int_distribution<std::size_t>(1, bytes.size() - 1)(rng));
  }
  std::sort(cuts.begin(), cuts.end());
  std::size_t at = 0;
  for (std::size_t c : cuts) {
    if (c > at) {
      out.emplace_back(bytes.substr(at, c - at));
      at = c;
    }
  }
  if (at < bytes.size()) {
    out.emplace_back(bytes.substr(at));
  }
}

// gzip of `head` (sync-flushed, so it decodes before the tail arrives) and of `tail`.
std::pair<std::string, std::string> gzip_parts(std::string_view head, std::string_view tail) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  auto run = [&](std::string_view in, int flush) {
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[16384];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
    return out;
  };
  auto a = run(head, Z_SYNC_FLUSH);
  auto b = run(tail, Z_FINISH);
  deflateEnd(&z);
  return {a, b};
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

}  // namespace

scripted_reply wire_reply(std::string_view head_body, std::string_view tail_body,
                          const wire_options& o, std::mt19937& rng) {
  std::string head(head_body);
  std::string tail(tail_body);
  if (o.gzip) {
    std::tie(head, tail) = gzip_parts(head_body, tail_body);
  }
  std::string hdr = (o.frame == framing::http10 ? "HTTP/1.0 " : "HTTP/1.1 ") +
                    std::to_string(o.status) + " " + o.reason + "\r\n";
  if (!o.content_type.empty()) {
    hdr += "Content-Type: " + o.content_type + "\r\n";
  }
  if (o.gzip) {
    hdr += "Content-Encoding: gzip\r\n";
  }
  for (const auto& [k, v] : o.headers) {
    hdr += k + ": " + v + "\r\n";
  }
  std::string body_head;
  std::string body_tail;
  switch (o.frame) {
    case framing::content_length:
      hdr += "Content-Length: " + std::to_string(head.size() + tail.size()) + "\r\n";
      body_head = head;
      body_tail = tail;
      break;
    case framing::chunked: {
      hdr += "Transfer-Encoding: chunked\r\n";
      std::vector<std::string> parts;
      cut_randomly(head, rng, parts);
      for (const auto& p : parts) {
        body_head += chunk(p);
      }
      if (!tail.empty()) {
        body_tail = chunk(tail);
      }
      body_tail += "0\r\n\r\n";
      break;
    }
    case framing::close_delimited:
    case framing::http10:
    case framing::connection_close:
      hdr += "Connection: close\r\n";
      body_head = head;
      body_tail = tail;
      break;
  }
  if (o.frame == framing::connection_close) {
    // Content-Length and Connection: close together.
    hdr += "Content-Length: " + std::to_string(head.size() + tail.size()) + "\r\n";
  }
  hdr += "\r\n";
  scripted_reply r;
  cut_randomly(o.interim + hdr + body_head, rng, r.pieces);
  r.gate = r.pieces.size();
  cut_randomly(body_tail, rng, r.pieces);
  // Bytes after the answer leave with its last bytes: sent later, they would be
  // indistinguishable from an answer to the next request (the HTTP/1.1 pipelining race).
  if (!o.trailing.empty()) {
    if (r.pieces.empty()) {
      r.pieces.emplace_back();
    }
    r.pieces.back() += o.trailing;
  }
  r.close_after = o.frame == framing::close_delimited || o.frame == framing::http10 ||
                  o.frame == framing::connection_close;
  return r;
}

fake_upstream::fake_upstream(script handler)
    : script_(std::move(handler)),
      acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_.accept(s, ec);
      std::lock_guard lock(m_);
      if (ec || stopping_) {
        return;
      }
      ++connections_;
      fds_.push_back(s.native_handle());
      conn_threads_.emplace_back([this, sock = std::move(s)]() mutable { serve(std::move(sock)); });
    }
  });
}

fake_upstream::~fake_upstream() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
    released_ = true;
    for (int fd : fds_) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  cv_.notify_all();
  boost::system::error_code ec;
  // Wake the blocking accept with a connection of our own.
  tcp::socket poke(io_);
  poke.connect(acceptor_.local_endpoint(), ec);
  accept_thread_.join();
  for (auto& t : conn_threads_) {
    t.join();
  }
}

void fake_upstream::release() {
  {
    std::lock_guard lock(m_);
    released_ = true;
  }
  cv_.notify_all();
}

void fake_upstream::rearm() {
  std::lock_guard lock(m_);
  released_ = false;
}

std::vector<http::request<http::string_body>> fake_upstream::received() {
  std::lock_guard lock(m_);
  return received_;
}

void fake_upstream::serve(tcp::socket s) {
  timeval tv{10, 0};  // no test waits longer; a stuck gateway read ends here
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(s, buf, req, ec);
    if (ec) {
      return;
    }
    const int index = requests_++;
    {
      std::lock_guard lock(m_);
      received_.push_back(req);
    }
    auto reply = script_(req, index);
    for (std::size_t i = 0; i < reply.pieces.size(); ++i) {
      if (i == reply.gate) {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      }
      net::write(s, net::buffer(reply.pieces[i]), ec);
      if (ec) {
        return;
      }
    }
    ++replies_done_;
    if (reply.close_after) {
      s.shutdown(tcp::socket::shutdown_send, ec);
      // Read until the peer closes too, so the gateway sees a clean FIN, not a reset.
      char sink[256];
      while (!ec) {
        s.read_some(net::buffer(sink), ec);
      }
      return;
    }
  }
}

}  // namespace switchyard::test
