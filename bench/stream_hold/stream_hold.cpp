// stream-hold: a single-threaded Boost.Asio client for the streaming parts of bench/run.sh.
//
//   stream-hold hold --port P [-n 10000] [--tokens 30] [--inter-token-ms 1000] [--rss-pid PID]
//     Opens N connections (at most --open-concurrency between connect and first event, so the
//     ramp follows the server's pace), sends one streaming chat request on each, reads every SSE
//     event and reports: streams established, events received against expected, the largest gap
//     between two consecutive events of one stream (a stall is a gap above 3x the inter-token
//     delay) and when stalls happened, errors grouped by message, this client's own event-loop
//     lag (a late client would report false stalls), and RSS / CPU of --rss-pid while open.
//
//   stream-hold ttft --port P [--requests 200] [--tokens 4] [--inter-token-ms 10]
//     Sends sequential streaming requests on one keep-alive connection and reports the time
//     from starting to send the request to the first SSE `data:` event (p50, p90, p99, max).
//
// Both modes print human-readable lines and one final line starting with "RESULT " made of
// key=value pairs for scripts. The expected number of events per stream is learned from a probe
// request (same request, no inter-token delay), so the tool does not hard-code the mock's format.
// Requests carry the mock's x-mock-tokens / x-mock-inter-token-ms / x-mock-ttft-ms headers.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct options {
  std::string mode;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/v1/chat/completions";
  std::string model = "gpt-4o-mini";
  long streams = 10000;
  long requests = 200;
  long warmup = 10;
  long tokens = -1;          // -1: mode default
  long inter_token_ms = -1;  // -1: mode default
  long ttft_ms = 0;
  long open_concurrency = 256;
  long timeout_s = 0;  // 0: derived from the stream length
  int rss_pid = 0;
};

// --- SSE scanning -------------------------------------------------------------------------

// Splits a byte stream into SSE events (blank-line separated) and counts the ones with data.
class sse_scanner {
 public:
  // Returns how many data events completed with these bytes; sets done on `data: [DONE]`.
  int feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c != '\r') {
        pending_.push_back(c);
      }
    }
    int events = 0;
    std::size_t pos = 0;
    for (;;) {
      auto end = pending_.find("\n\n", pos);
      if (end == std::string::npos) {
        break;
      }
      std::string_view ev(pending_.data() + pos, end - pos);
      if (has_data(ev)) {
        ++events;
      }
      pos = end + 2;
    }
    pending_.erase(0, pos);
    return events;
  }
  bool done() const { return done_; }
  // An event with a token arrived: a chat chunk whose choices carry a non-empty delta.content
  // (a role-only first chunk is not a token: direct, it comes before the first token, while a
  // gateway that holds a stream for its first output sends both together).
  bool saw_content() const { return content_; }

 private:
  bool has_data(std::string_view ev) {
    bool data = false;
    while (!ev.empty()) {
      auto nl = ev.find('\n');
      std::string_view line = ev.substr(0, nl);
      if (line.starts_with("data:")) {
        data = true;
        std::string_view v = line.substr(5);
        if (v.starts_with(' ')) {
          v.remove_prefix(1);
        }
        if (v == "[DONE]") {
          done_ = true;
        } else if (!content_) {
          content_ = has_content(v);
        }
      }
      if (nl == std::string_view::npos) {
        break;
      }
      ev.remove_prefix(nl + 1);
    }
    return data;
  }
  static bool has_content(std::string_view data) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(data, ec);
    const auto* choices = ec || !v.is_object() ? nullptr : v.as_object().if_contains("choices");
    if (!choices || !choices->is_array()) {
      return false;
    }
    for (const auto& c : choices->as_array()) {
      const auto* delta = c.is_object() ? c.as_object().if_contains("delta") : nullptr;
      const auto* text =
          delta && delta->is_object() ? delta->as_object().if_contains("content") : nullptr;
      if (text && text->is_string() && !text->as_string().empty()) {
        return true;
      }
    }
    return false;
  }
  std::string pending_;
  bool done_ = false;
  bool content_ = false;
};

// --- one streaming exchange ----------------------------------------------------------------

std::string request_text(const options& o, long tokens, long inter_ms, bool keep_alive) {
  std::string body =
      R"({"model":")" + o.model + R"(","messages":[{"role":"user","content":"hi"}],"stream":true})";
  std::string r = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                  "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                  "Authorization: Bearer sk-bench-client\r\n"
                  "x-mock-tokens: " +
                  std::to_string(tokens) +
                  "\r\nx-mock-inter-token-ms: " + std::to_string(inter_ms) +
                  "\r\nx-mock-ttft-ms: " + std::to_string(o.ttft_ms) +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) {
    r += "Connection: close\r\n";
  }
  r += "\r\n";
  r += body;
  return r;
}

// What happened to one stream; the hold mode aggregates these.
struct stream_outcome {
  bool established = false;  // 200 with a response header
  bool completed = false;    // saw [DONE] and the end of the body
  long events = 0;           // data events, [DONE] included
  double max_gap_ms = 0;     // between consecutive data events
  long stalls = 0;           // gaps above the stall threshold
  std::vector<std::pair<clock_type::time_point, double>> stall_at;  // end of each stall, gap
  double first_event_ms = -1;    // from starting to send the request
  double first_content_ms = -1;  // the first event with a token (sse_scanner::saw_content)
  std::string error;             // empty when none
  bool server_keeps = false;     // response allows reusing the connection
};

// Callbacks a caller can hook into (the hold mode counts live streams with them).
struct stream_hooks {
  std::function<void()> on_established;
  std::function<void()> on_first_event;
};

// Sends the request on an open connection and reads the whole streamed response.
net::awaitable<stream_outcome> run_exchange(beast::tcp_stream& s, beast::flat_buffer& buf,
                                            const std::string& request, double stall_ms,
                                            std::chrono::milliseconds read_timeout,
                                            const stream_hooks* hooks) {
  stream_outcome out;
  const auto t0 = clock_type::now();
  s.expires_after(30s);
  auto [wec, wn] = co_await net::async_write(s, net::buffer(request), use_tuple);
  if (wec) {
    out.error = "write: " + wec.message();
    co_return out;
  }
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  s.expires_after(std::max<std::chrono::milliseconds>(read_timeout, 30s));
  auto [hec, hn] = co_await http::async_read_header(s, buf, parser, use_tuple);
  if (hec) {
    out.error = "response header: " + hec.message();
    co_return out;
  }
  const unsigned status = parser.get().result_int();
  out.server_keeps = parser.get().keep_alive();
  char body[2048];
  sse_scanner scanner;
  std::optional<clock_type::time_point> last_event;
  if (status == 200) {
    out.established = true;
    if (hooks && hooks->on_established) {
      hooks->on_established();
    }
  }
  std::string error_body;
  while (!parser.is_done()) {
    parser.get().body().data = body;
    parser.get().body().size = sizeof body;
    s.expires_after(read_timeout);
    auto [ec, n] = co_await http::async_read_some(s, buf, parser, use_tuple);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    const std::size_t got = sizeof body - parser.get().body().size;
    if (got > 0) {
      const auto now = clock_type::now();
      if (status != 200) {
        error_body.append(
            body, std::min<std::size_t>(got, 300 - std::min<std::size_t>(300, error_body.size())));
      } else if (int k = scanner.feed(std::string_view(body, got)); k > 0) {
        if (last_event) {
          const double gap = ms_between(*last_event, now);
          out.max_gap_ms = std::max(out.max_gap_ms, gap);
          if (gap > stall_ms) {
            ++out.stalls;
            out.stall_at.emplace_back(now, gap);
          }
        } else {
          out.first_event_ms = ms_between(t0, now);
          if (hooks && hooks->on_first_event) {
            hooks->on_first_event();
          }
        }
        last_event = now;
        out.events += k;
        if (out.first_content_ms < 0 && scanner.saw_content()) {
          out.first_content_ms = ms_between(t0, now);
        }
      }
    }
    if (ec) {
      out.error = "body: " + ec.message();
      co_return out;
    }
  }
  if (status != 200) {
    // The OpenAI error shape: keep only "message", so identical errors group together.
    std::string message = error_body;
    if (auto m = error_body.find(R"("message":")"); m != std::string::npos) {
      message = error_body.substr(m + 11, error_body.find('"', m + 11) - (m + 11));
    }
    out.error = "http " + std::to_string(status) + ": " + message;
    co_return out;
  }
  out.completed = scanner.done();
  if (!out.completed) {
    out.error = "stream ended without data: [DONE]";
  }
  co_return out;
}

net::awaitable<beast::error_code> connect(beast::tcp_stream& s, const tcp::endpoint& ep) {
  s.expires_after(10s);
  auto [ec] = co_await s.async_connect(ep, use_tuple);
  if (!ec) {
    s.socket().set_option(tcp::no_delay(true), ec);
  }
  co_return ec;
}

// --- /proc sampling ------------------------------------------------------------------------

long rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("VmRSS:")) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = all.rfind(')');
  if (rp == std::string::npos) {
    return -1;
  }
  std::istringstream rest(all.substr(rp + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // field 3 is the state
    if (i == 14) {
      utime = std::strtod(field.c_str(), nullptr);
    } else if (i == 15) {
      stime = std::strtod(field.c_str(), nullptr);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- percentiles ---------------------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

// --- probe ---------------------------------------------------------------------------------

// One stream without inter-token delay: how many data events a full stream has.
net::awaitable<long> probe(const options& o, tcp::endpoint ep, long tokens) {
  beast::tcp_stream s(co_await net::this_coro::executor);
  if (auto ec = co_await connect(s, ep)) {
    std::cerr << "probe: connect: " << ec.message() << "\n";
    co_return -1;
  }
  beast::flat_buffer buf;
  auto out = co_await run_exchange(s, buf, request_text(o, tokens, 0, false), 1e12, 30s, nullptr);
  if (!out.error.empty()) {
    std::cerr << "probe: " << out.error << "\n";
    co_return -1;
  }
  co_return out.events;
}

// --- hold mode -----------------------------------------------------------------------------

struct hold_state {
  const options* o = nullptr;
  tcp::endpoint ep;
  std::string request;
  double stall_ms = 0;
  std::chrono::milliseconds read_timeout{};
  long opening = 0;  // connect started, first event not yet received
  long finished = 0;
  long open_now = 0;  // established and not finished
  long max_open = 0;
  long first_events = 0;  // streams that received at least one event
  long failed_before_first = 0;
  std::optional<clock_type::time_point> all_open_at;
  clock_type::time_point start;
  std::vector<stream_outcome> outcomes;
  std::vector<double> connect_ms;
  std::map<std::string, long> errors;
  double max_loop_lag_ms = 0;  // this client's own event loop: late timers mean it was starved
  // RSS / CPU of the process under test (--rss-pid)
  long rss_all_open_kb = -1;
  long rss_peak_kb = -1;
  double cpu_at_all_open = -1;
  double cpu_at_end = -1;
  std::optional<clock_type::time_point> streams_done_at;
  std::optional<net::steady_timer> wake;  // cancelled when every stream has finished
};

void check_all_open(hold_state& st) {
  if (!st.all_open_at && st.first_events + st.failed_before_first >= st.o->streams) {
    st.all_open_at = clock_type::now();
    if (st.o->rss_pid) {
      st.rss_all_open_kb = rss_kb(st.o->rss_pid);
      st.cpu_at_all_open = cpu_seconds(st.o->rss_pid);
    }
    std::printf(
        "  t=%5.1fs all %ld streams open (%ld failed before their first event), "
        "rss=%ld kB\n",
        ms_between(st.start, *st.all_open_at) / 1000.0, st.first_events, st.failed_before_first,
        st.rss_all_open_kb);
    std::fflush(stdout);
  }
}

net::awaitable<void> hold_one(hold_state& st, long index) {
  auto ex = co_await net::this_coro::executor;
  beast::tcp_stream s(ex);
  stream_outcome out;
  bool opening = true;  // holds a slot of the opening gate until the first event
  auto leave_opening = [&] {
    if (std::exchange(opening, false)) {
      --st.opening;
    }
  };
  ++st.opening;
  const auto t0 = clock_type::now();
  auto cec = co_await connect(s, st.ep);
  bool got_first = false;
  if (cec) {
    out.error = "connect: " + cec.message();
  } else {
    st.connect_ms.push_back(ms_between(t0, clock_type::now()));
    beast::flat_buffer buf;
    stream_hooks hooks;
    hooks.on_established = [&st] { st.max_open = std::max(st.max_open, ++st.open_now); };
    hooks.on_first_event = [&] {
      got_first = true;
      leave_opening();
      ++st.first_events;
      check_all_open(st);
    };
    out = co_await run_exchange(s, buf, st.request, st.stall_ms, st.read_timeout, &hooks);
    if (out.established) {
      --st.open_now;
    }
  }
  leave_opening();
  if (!got_first) {
    ++st.failed_before_first;
    check_all_open(st);
  }
  if (!out.error.empty()) {
    ++st.errors[out.error.substr(0, 160)];
  }
  st.outcomes[static_cast<std::size_t>(index)] = std::move(out);
  beast::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s.close();
  if (++st.finished == st.o->streams) {
    st.streams_done_at = clock_type::now();
    if (st.o->rss_pid) {
      st.cpu_at_end = cpu_seconds(st.o->rss_pid);
    }
    st.wake->cancel();
  }
}

// Starts the streams, at most --open-concurrency at a time between connect and first event:
// the ramp goes at the pace the server accepts and answers, instead of overflowing its accept
// queue (dropped handshakes come back only after SYN retransmits, seconds later).
net::awaitable<void> launch_all(hold_state& st) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer pause(ex);
  for (long i = 0; i < st.o->streams; ++i) {
    while (st.opening >= st.o->open_concurrency) {
      pause.expires_after(1ms);
      co_await pause.async_wait(use_tuple);
    }
    net::co_spawn(ex, hold_one(st, i), net::detached);
    if (i % 32 == 31) {
      co_await net::post(ex, net::use_awaitable);  // let the started streams make progress
    }
  }
}

// Progress once a second, RSS of --rss-pid, and how late this loop's own timer fires.
net::awaitable<void> monitor(hold_state& st) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer t(ex);
  auto next_print = clock_type::now();
  while (st.finished < st.o->streams) {
    const auto now = clock_type::now();
    if (now >= next_print) {
      const long r = st.o->rss_pid ? rss_kb(st.o->rss_pid) : -1;
      st.rss_peak_kb = std::max(st.rss_peak_kb, r);
      std::printf("  t=%5.1fs open=%ld opening=%ld finished=%ld rss=%ld kB\n",
                  ms_between(st.start, now) / 1000.0, st.open_now, st.opening, st.finished, r);
      std::fflush(stdout);
      next_print = now + (st.all_open_at && st.finished == 0 ? 5s : 1s);
    }
    const auto due = now + 50ms;
    t.expires_at(due);
    co_await t.async_wait(use_tuple);
    st.max_loop_lag_ms = std::max(st.max_loop_lag_ms, ms_between(due, clock_type::now()));
  }
}

net::awaitable<int> hold_main(const options& o, tcp::endpoint ep) {
  auto ex = co_await net::this_coro::executor;
  const long tokens = o.tokens >= 0 ? o.tokens : 30;
  const long inter = o.inter_token_ms >= 0 ? o.inter_token_ms : 1000;
  const long per_stream = co_await probe(o, ep, tokens);
  if (per_stream < 0) {
    std::printf("RESULT mode=hold probe=failed\n");
    co_return 1;
  }
  // Streams still running when the deadline passes keep a reference: the state outlives this
  // frame (main stops the io_context as soon as this coroutine returns).
  hold_state& st = *new hold_state;
  st.o = &o;
  st.ep = ep;
  st.request = request_text(o, tokens, inter, false);
  st.stall_ms = 3.0 * static_cast<double>(inter);
  st.read_timeout = std::chrono::milliseconds(std::max<long>(10 * inter, 10000));
  st.outcomes.resize(static_cast<std::size_t>(o.streams));
  st.connect_ms.reserve(static_cast<std::size_t>(o.streams));
  st.start = clock_type::now();
  st.wake.emplace(ex, clock_type::time_point::max());
  std::printf(
      "hold: %ld streams to %s:%u, %ld tokens every %ld ms, %ld events per stream "
      "(probe), stall threshold %.0f ms, at most %ld opening at once\n",
      o.streams, o.host.c_str(), o.port, tokens, inter, per_stream, st.stall_ms,
      o.open_concurrency);
  std::fflush(stdout);
  net::co_spawn(ex, monitor(st), net::detached);
  net::co_spawn(ex, launch_all(st), net::detached);
  // Every stream finishes by itself (completion, error or read timeout); the overall deadline
  // only guards against a bug in this tool.
  const long limit_s = o.timeout_s ? o.timeout_s : 120 + tokens * inter / 1000 * 3;
  st.wake->expires_after(std::chrono::seconds(limit_s));
  co_await st.wake->async_wait(use_tuple);
  const auto end = clock_type::now();
  if (st.finished < o.streams) {
    std::printf("hold: gave up after %ld s with %ld of %ld streams unfinished\n", limit_s,
                o.streams - st.finished, o.streams);
  }

  long established = 0, completed = 0, events = 0, stalls = 0, stalled_streams = 0;
  double max_gap = 0;
  std::vector<double> gaps, firsts;
  std::map<long, std::pair<long, double>> stalls_by_second;  // second -> count, worst gap
  for (const auto& r : st.outcomes) {
    established += r.established;
    completed += r.completed;
    events += r.events;
    stalls += r.stalls;
    stalled_streams += r.stalls > 0;
    max_gap = std::max(max_gap, r.max_gap_ms);
    if (r.events > 1) {
      gaps.push_back(r.max_gap_ms);
    }
    if (r.first_event_ms >= 0) {
      firsts.push_back(r.first_event_ms);
    }
    for (const auto& [at, gap] : r.stall_at) {
      auto& b = stalls_by_second[static_cast<long>(ms_between(st.start, at) / 1000.0)];
      ++b.first;
      b.second = std::max(b.second, gap);
    }
  }
  for (const auto& [sec, b] : stalls_by_second) {
    std::printf("  stalls ending in second %ld: %ld (worst gap %.0f ms)\n", sec, b.first, b.second);
  }
  long error_count = 0;
  for (const auto& [what, n] : st.errors) {
    std::printf("  error x%ld: %s\n", n, what.c_str());
    error_count += n;
  }
  const double ramp_s = st.all_open_at ? ms_between(st.start, *st.all_open_at) / 1000.0 : -1.0;
  const double total_s = ms_between(st.start, end) / 1000.0;
  double cpu_pct = -1;
  if (st.cpu_at_all_open >= 0 && st.cpu_at_end >= 0 && st.all_open_at && st.streams_done_at) {
    const double wall = ms_between(*st.all_open_at, *st.streams_done_at) / 1000.0;
    if (wall > 0) {
      cpu_pct = 100.0 * (st.cpu_at_end - st.cpu_at_all_open) / wall;
    }
  }
  std::printf(
      "hold: established %ld/%ld (max %ld open at once), completed %ld, events %ld/%ld, "
      "max gap %.1f ms, stalls %ld in %ld streams, errors %ld, all open after %.2f s, "
      "total %.1f s, client loop lag max %.0f ms\n",
      established, o.streams, st.max_open, completed, events, per_stream * o.streams, max_gap,
      stalls, stalled_streams, error_count, ramp_s, total_s, st.max_loop_lag_ms);
  std::printf(
      "RESULT mode=hold streams=%ld established=%ld max_open=%ld completed=%ld events=%ld "
      "expected=%ld max_gap_ms=%.1f p99_stream_max_gap_ms=%.1f stall_threshold_ms=%.0f "
      "stalls=%ld stalled_streams=%ld errors=%ld ramp_s=%.2f total_s=%.1f "
      "connect_p50_ms=%.2f connect_p99_ms=%.2f connect_max_ms=%.1f "
      "first_event_p50_ms=%.1f first_event_p99_ms=%.1f rss_all_open_kb=%ld rss_peak_kb=%ld "
      "cpu_pct_while_open=%.1f client_loop_lag_max_ms=%.0f\n",
      o.streams, established, st.max_open, completed, events, per_stream * o.streams, max_gap,
      percentile(gaps, 99), st.stall_ms, stalls, stalled_streams, error_count, ramp_s, total_s,
      percentile(st.connect_ms, 50), percentile(st.connect_ms, 99), percentile(st.connect_ms, 100),
      percentile(firsts, 50), percentile(firsts, 99), st.rss_all_open_kb, st.rss_peak_kb, cpu_pct,
      st.max_loop_lag_ms);
  std::fflush(stdout);
  co_return (established == o.streams && stalls == 0 && error_count == 0) ? 0 : 1;
}

// --- ttft mode -----------------------------------------------------------------------------

net::awaitable<int> ttft_main(const options& o, tcp::endpoint ep) {
  auto ex = co_await net::this_coro::executor;
  const long tokens = o.tokens >= 0 ? o.tokens : 4;
  const long inter = o.inter_token_ms >= 0 ? o.inter_token_ms : 10;
  const std::string request = request_text(o, tokens, inter, true);
  std::optional<beast::tcp_stream> s;
  beast::flat_buffer buf;
  std::vector<double> ttft;
  std::vector<double> first_token;  // to the first event with a token
  std::map<std::string, long> errors;
  long reconnects = 0;
  for (long i = 0; i < o.warmup + o.requests; ++i) {
    if (!s) {
      s.emplace(ex);
      buf.clear();
      if (auto ec = co_await connect(*s, ep)) {
        ++errors["connect: " + ec.message()];
        s.reset();
        continue;
      }
      ++reconnects;
    }
    auto out = co_await run_exchange(*s, buf, request, 1e12, 10s, nullptr);
    if (!out.error.empty()) {
      ++errors[out.error.substr(0, 120)];
    } else if (i >= o.warmup && out.first_event_ms >= 0) {
      ttft.push_back(out.first_event_ms);
      if (out.first_content_ms >= 0) {
        first_token.push_back(out.first_content_ms);
      }
    }
    if (!out.error.empty() || !out.server_keeps) {
      s.reset();
    }
  }
  long error_count = 0;
  for (const auto& [what, n] : errors) {
    std::printf("  error x%ld: %s\n", n, what.c_str());
    error_count += n;
  }
  double mean = 0;
  for (double v : ttft) {
    mean += v;
  }
  mean = ttft.empty() ? 0 : mean / static_cast<double>(ttft.size());
  std::printf(
      "RESULT mode=ttft requests=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      "mean_ms=%.3f errors=%ld connections=%ld token_p50_ms=%.3f token_p99_ms=%.3f\n",
      ttft.size(), percentile(ttft, 50), percentile(ttft, 90), percentile(ttft, 99),
      percentile(ttft, 100), mean, error_count, reconnects, percentile(first_token, 50),
      percentile(first_token, 99));
  std::fflush(stdout);
  co_return error_count == 0 ? 0 : 1;
}

// --- arguments -----------------------------------------------------------------------------

constexpr std::string_view usage =
    "usage: stream-hold hold --port P [--host H] [-n N] [--tokens T] [--inter-token-ms MS]\n"
    "                        [--open-concurrency K] [--rss-pid PID] [--timeout-s S]\n"
    "       stream-hold ttft --port P [--host H] [--requests N] [--warmup N] [--tokens T]\n"
    "                        [--inter-token-ms MS]\n"
    "common: [--path /v1/chat/completions] [--model gpt-4o-mini] [--ttft-ms MS]\n"
    "hold defaults: -n 10000 --tokens 30 --inter-token-ms 1000 --open-concurrency 256\n"
    "ttft defaults: --requests 200 --warmup 10 --tokens 4 --inter-token-ms 10\n";

std::optional<options> parse(int argc, char** argv) {
  if (argc < 2) {
    return std::nullopt;
  }
  options o;
  o.mode = argv[1];
  if (o.mode != "hold" && o.mode != "ttft") {
    return std::nullopt;
  }
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "stream-hold: " << a << " needs a value\n";
      return std::nullopt;
    }
    std::string_view v = argv[++i];
    long n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    const bool num = ec == std::errc{} && p == v.data() + v.size() && n >= 0;
    auto need_num = [&](long& field) {
      if (!num) {
        std::cerr << "stream-hold: bad value for " << a << ": " << v << "\n";
        return false;
      }
      field = n;
      return true;
    };
    bool ok = true;
    if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      long port = 0;
      ok = need_num(port) && port > 0 && port < 65536;
      o.port = static_cast<std::uint16_t>(port);
    } else if (a == "--path") {
      o.path = v;
    } else if (a == "--model") {
      o.model = v;
    } else if (a == "-n" || a == "--streams") {
      ok = need_num(o.streams) && o.streams > 0;
    } else if (a == "--requests") {
      ok = need_num(o.requests) && o.requests > 0;
    } else if (a == "--warmup") {
      ok = need_num(o.warmup);
    } else if (a == "--tokens") {
      ok = need_num(o.tokens);
    } else if (a == "--inter-token-ms") {
      ok = need_num(o.inter_token_ms);
    } else if (a == "--ttft-ms") {
      ok = need_num(o.ttft_ms);
    } else if (a == "--open-concurrency") {
      ok = need_num(o.open_concurrency) && o.open_concurrency > 0;
    } else if (a == "--timeout-s") {
      ok = need_num(o.timeout_s);
    } else if (a == "--rss-pid") {
      long pid = 0;
      ok = need_num(pid);
      o.rss_pid = static_cast<int>(pid);
    } else {
      std::cerr << "stream-hold: unknown option " << a << "\n";
      ok = false;
    }
    if (!ok) {
      return std::nullopt;
    }
  }
  if (o.port == 0) {
    std::cerr << "stream-hold: --port is required\n";
    return std::nullopt;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  if (!o) {
    std::cerr << usage;
    return 2;
  }
  // One descriptor per stream plus a few; say so up front instead of failing on the 1021st.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && o->mode == "hold") {
    const auto need = static_cast<rlim_t>(o->streams + 64);
    if (rl.rlim_cur < need) {
      rl.rlim_cur = std::min(need, rl.rlim_max);
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need) {
      std::printf("hold: warning: only %lu descriptors allowed, %lu wanted\n",
                  static_cast<unsigned long>(rl.rlim_cur), static_cast<unsigned long>(need));
    }
  }
  try {
    net::io_context ioc(1);
    tcp::endpoint ep(net::ip::make_address(o->host), o->port);
    int rc = 1;
    net::co_spawn(ioc, o->mode == "hold" ? hold_main(*o, ep) : ttft_main(*o, ep),
                  [&rc, &ioc](std::exception_ptr e, int r) {
                    ioc.stop();  // streams still open past the deadline are abandoned
                    if (e) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& ex) {
                        std::cerr << "stream-hold: " << ex.what() << "\n";
                      }
                      rc = 1;
                    } else {
                      rc = r;
                    }
                  });
    ioc.run();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "stream-hold: " << e.what() << "\n";
    return 1;
  }
}
