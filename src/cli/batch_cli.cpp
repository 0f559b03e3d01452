#include "switchyard/cli/batch_cli.hpp"

#include "switchyard/core/net.hpp"
#include "switchyard/jobs/batch_object.hpp"

#include <unistd.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdio>
#include <string_view>
#include <thread>
#include <variant>

namespace switchyard {

namespace {

namespace json = boost::json;

constexpr const char* usage =
    "usage: switchyard batch status ID [--url URL] [--token TOKEN] [--watch]\n"
    "  --url URL      the gateway (default http://127.0.0.1:8080)\n"
    "  --token TOKEN  sent as Authorization: Bearer TOKEN\n"
    "  --watch        poll every second until the batch ends\n";

// One request's deadline, and how long --watch follows a batch (its completion window, 24 h,
// plus finalization).
constexpr auto request_timeout = std::chrono::seconds(10);
constexpr auto watch_limit = std::chrono::hours(25);

std::uint64_t count_of(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  if (v && v->is_int64() && v->as_int64() >= 0) {
    return static_cast<std::uint64_t>(v->as_int64());
  }
  return v && v->is_uint64() ? v->as_uint64() : 0;
}

struct answer {
  unsigned status = 0;
  std::string body;
};

// GET `path` from the gateway at `base`: the answer, or an error message.
std::variant<answer, std::string> get(const boost::urls::url_view& base, const std::string& path,
                                      const std::string& token) {
  if (base.scheme() != "http") {
    return std::string("only http:// URLs are supported (the CLI has no TLS)");
  }
  net::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  const std::string host = base.host();
  const std::string port = base.has_port() ? std::string(base.port()) : "80";
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) {
    return "cannot resolve " + host + ": " + ec.message();
  }
  beast::tcp_stream stream(io);
  stream.expires_after(request_timeout);
  stream.connect(endpoints, ec);
  if (ec) {
    return "cannot connect to " + host + ":" + port + ": " + ec.message();
  }
  std::string target = std::string(base.path());
  while (!target.empty() && target.back() == '/') {
    target.pop_back();
  }
  http::request<http::empty_body> req{http::verb::get, target + path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "switchyard-cli");
  if (!token.empty()) {
    req.set(http::field::authorization, "Bearer " + token);
  }
  // Sync Beast with a deadline: the tcp_stream's expiry closes the socket, so read cannot hang.
  stream.expires_after(request_timeout);
  http::write(stream, req, ec);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(8 << 20);
  if (!ec) {
    http::read(stream, buf, parser, ec);
  }
  if (ec) {
    return "the gateway did not answer: " + ec.message();
  }
  return answer{parser.get().result_int(), parser.get().body()};
}

}  // namespace

std::string render_batch_progress(const json::object& b, bool bar, int width) {
  const auto text = [&](const char* k) -> std::string {
    const auto* v = b.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  };
  json::object counts;
  if (const auto* c = b.if_contains("request_counts"); c && c->is_object()) {
    counts = c->as_object();
  }
  const auto total = count_of(counts, "total");
  const auto completed = count_of(counts, "completed");
  const auto failed = count_of(counts, "failed");
  const auto done = completed + failed;
  double cost = 0;
  if (const auto* s = b.if_contains("switchyard"); s && s->is_object()) {
    if (const auto* c = s->as_object().if_contains("cost_usd"); c && c->is_number()) {
      cost = c->to_number<double>();
    }
  }
  char money[32];
  std::snprintf(money, sizeof money, "%.6f", cost);
  if (!bar) {
    return text("id") + " status=" + text("status") + " done=" + std::to_string(done) + "/" +
           std::to_string(total) + " completed=" + std::to_string(completed) +
           " failed=" + std::to_string(failed) + " cost_usd=" + money;
  }
  const double share = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  const int filled = static_cast<int>(share * width);
  std::string cells(static_cast<std::size_t>(filled), '#');
  cells.append(static_cast<std::size_t>(width - filled), '.');
  return text("id") + " " + text("status") + " [" + cells + "] " +
         std::to_string(static_cast<int>(share * 100)) + "% " + std::to_string(done) + "/" +
         std::to_string(total) + " (" + std::to_string(failed) + " failed) $" + money;
}

int batch_command(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != "status") {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string id = argv[2], url = "http://127.0.0.1:8080", token;
  bool watch = false;
  for (int i = 3; i < argc; ++i) {
    const std::string_view a = argv[i];
    if ((a == "--url" || a == "--token") && i + 1 < argc) {
      (a == "--url" ? url : token) = argv[++i];
    } else if (a == "--watch") {
      watch = true;
    } else {
      std::fprintf(stderr, "switchyard batch: unexpected argument %s\n%s", argv[i], usage);
      return 2;
    }
  }
  auto base = boost::urls::parse_uri(url);
  if (!base) {
    std::fprintf(stderr, "switchyard batch: --url %s is not a URL\n", url.c_str());
    return 2;
  }
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const auto until = std::chrono::steady_clock::now() + watch_limit;
  std::string last;
  for (;;) {
    auto got = get(*base, "/v1/batches/" + id, token);
    if (auto* e = std::get_if<std::string>(&got)) {
      std::fprintf(stderr, "switchyard batch: %s\n", e->c_str());
      return 1;
    }
    const auto& a = std::get<answer>(got);
    json::error_code ec;
    auto v = json::parse(a.body, ec);
    if (a.status != 200 || ec || !v.is_object()) {
      std::fprintf(stderr, "switchyard batch: HTTP %u: %s\n", a.status, a.body.c_str());
      return 1;
    }
    const auto line = render_batch_progress(v.as_object(), tty);
    const auto* st = v.as_object().if_contains("status");
    const auto status = st && st->is_string() ? parse_batch_status(st->as_string()) : std::nullopt;
    const bool finished = !status || is_terminal(*status);
    if (tty) {
      std::printf("\r%s\033[K", line.c_str());  // redraw the bar in place
      if (!watch || finished) {
        std::printf("\n");
      }
    } else if (line != last) {
      std::printf("%s\n", line.c_str());  // plain lines, only when something changed
    }
    std::fflush(stdout);
    last = line;
    if (!watch || finished || std::chrono::steady_clock::now() >= until) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace switchyard
