#include "harness.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <sys/socket.h>
#include <sys/time.h>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace switchyard::test {

rig::rig(const std::string& yaml, mock::options mock_opts) {
  mock_ = std::make_unique<mock::server>(std::move(mock_opts));
  mock_->start();
  std::string text = yaml;
  for (auto at = text.find("{MOCK}"); at != std::string::npos; at = text.find("{MOCK}")) {
    text.replace(at, 6, std::to_string(mock_->port()));
  }
  auto parsed = parse_config(text);
  if (!parsed) {
    throw std::runtime_error("test config: " + parsed.error().message);
  }
  if (text.find("drain_grace") == std::string::npos) {
    // Tests that do not ask for a drain grace period should not wait one out at teardown.
    parsed->timeouts.drain_grace = duration{0};
  }
  if (text.find("data_dir") == std::string::npos) {
    data_dir_ = std::make_unique<temp_dir>();
    parsed->data_dir = data_dir_->path;
  }
  cfg_ = std::make_shared<const config>(std::move(*parsed));
  gateway_ = std::make_unique<server>(cfg_);
  gateway_->start();
}

rig::~rig() {
  gateway_->drain();
  gateway_->wait(steady_clock::now() + 5s);
  gateway_.reset();
  mock_->stop();
}

std::string default_yaml(const std::string& extra_top_level) {
  return R"(
listen: 127.0.0.1:0
workers: 1
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock, model: mock-model }
  - { name: same-name, upstream: mock }
  - { name: text-embedding-3-small, upstream: mock }
log: { level: off, access: off }
)" + extra_top_level;
}

std::uint16_t closed_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  // A timed wait on a private condition variable: bounded in time and count, no busy spin.
  std::mutex m;
  std::condition_variable cv;
  auto deadline = steady_clock::now() + timeout;
  std::unique_lock lock(m);
  while (!pred()) {
    if (steady_clock::now() >= deadline) {
      return false;
    }
    cv.wait_for(lock, 5ms);
  }
  return true;
}

std::string response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) {
      return v;
    }
  }
  return {};
}

client::client(std::uint16_t port, std::chrono::milliseconds timeout)
    : socket_(io_), buffer_(1 << 20) {
  socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

namespace {

http::request<http::string_body> make_request(
    http::verb method, std::string target, std::string body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) {
    req.set(k, v);
  }
  req.body() = std::move(body);
  if (method == http::verb::post || !req.body().empty()) {
    req.prepare_payload();
  }
  return req;
}

template <class Message>
response to_response(const Message& m) {
  response r;
  r.status = m.result_int();
  for (const auto& f : m) {
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  r.keep_alive = m.keep_alive();
  return r;
}

}  // namespace

response client::request(http::verb method, std::string target, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers) {
  auto req = make_request(method, std::move(target), std::move(body), headers);
  http::write(socket_, req);
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(socket_, buffer_, parser);
  auto r = to_response(parser.get());
  r.body = parser.get().body();
  return r;
}

response client::start_stream(std::string target, std::string body,
                              std::vector<std::pair<std::string, std::string>> headers) {
  auto req = make_request(http::verb::post, std::move(target), std::move(body), headers);
  http::write(socket_, req);
  stream_parser_.emplace();
  stream_parser_->body_limit(boost::none);
  http::read_header(socket_, buffer_, *stream_parser_);
  finished_ = false;
  pending_.clear();
  raw_body_.clear();
  return to_response(stream_parser_->get());
}

std::optional<std::string> client::next_event() {
  char buf[4096];
  while (pending_.empty()) {
    if (!stream_parser_ || stream_parser_->is_done()) {
      finished_ = stream_parser_ && stream_parser_->is_done();
      return std::nullopt;
    }
    stream_parser_->get().body().data = buf;
    stream_parser_->get().body().size = sizeof(buf);
    beast::error_code ec;
    http::read_some(socket_, buffer_, *stream_parser_, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    std::size_t got = sizeof(buf) - stream_parser_->get().body().size;
    if (got > 0) {
      raw_body_.append(buf, got);
      auto fed = sse_.feed(std::string_view(buf, got), pending_);
      if (!fed) {
        throw std::runtime_error("bad SSE from the gateway: " + fed.error().message);
      }
    }
    if (ec) {
      if (pending_.empty()) {
        return std::nullopt;  // connection ended or timed out without a complete event
      }
      break;
    }
  }
  auto data = std::move(pending_.front().data);
  pending_.erase(pending_.begin());
  return data;
}

void client::shutdown_send() {
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void client::send_raw(std::string_view bytes) {
  net::write(socket_, net::buffer(bytes));
}

std::string client::read_until_close() {
  std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  char buf[4096];
  for (int i = 0; i < 100000; ++i) {
    beast::error_code ec;
    auto n = socket_.read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec) {
      break;
    }
  }
  return out;
}

bool client::peer_closed() {
  char buf[4096];
  for (int i = 0; i < 100000; ++i) {
    beast::error_code ec;
    socket_.read_some(net::buffer(buf), ec);
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      return true;
    }
    if (ec) {
      return false;  // deadline passed with the connection still open
    }
  }
  return false;
}

void client::close() {
  beast::error_code ignored;
  socket_.close(ignored);
}

temp_dir::temp_dir() {
  char name[] = "/tmp/switchyard-test-XXXXXX";
  if (!::mkdtemp(name)) {
    throw std::runtime_error("mkdtemp failed");
  }
  path = name;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::optional<double> metric_sample(std::uint16_t port, std::string_view sample) {
  client c(port, std::chrono::seconds(5));
  const std::string text = c.request(http::verb::get, "/metrics").body;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view row(text.data() + at, end - at);
    at = end + 1;
    // `series value [timestamp]`; comments (# HELP, # TYPE) never match a series name.
    if (row.size() > sample.size() && row.substr(0, sample.size()) == sample &&
        row[sample.size()] == ' ') {
      const std::string value(
          row.substr(sample.size() + 1, row.find(' ', sample.size() + 1) - (sample.size() + 1)));
      char* stop = nullptr;
      const double v = std::strtod(value.c_str(), &stop);
      return stop != value.c_str() ? std::optional<double>(v) : std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace switchyard::test
