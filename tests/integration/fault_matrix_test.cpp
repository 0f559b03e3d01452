// Every client fault and every upstream fault in one table: each row states what the client
// must see (a status, a final SSE event, a closed connection), and after each row a normal
// request and a normal stream must still succeed on fresh connections.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include <sys/socket.h>

namespace switchyard::test {
namespace {

// An upstream that answers each connection with scripted bytes (garbage, huge headers, a status
// line and nothing else…), which the mock LLM cannot be asked to produce.
class raw_upstream {
 public:
  raw_upstream() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~raw_upstream() {
    stop_ = true;
    beast::error_code ignored;
    // Wake the blocking accept with a connection of our own.
    tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void script(std::string bytes) {
    std::lock_guard lock(mutex_);
    script_ = std::move(bytes);
  }

 private:
  void run() {
    while (!stop_) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) {
        continue;
      }
      timeval tv{2, 0};
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      // Reads the request head (the body is small and follows at once), then answers.
      std::string got;
      char buf[4096];
      while (got.find("\r\n\r\n") == std::string::npos && got.size() < 65536) {
        auto n = s.read_some(net::buffer(buf), ec);
        if (ec) {
          break;
        }
        got.append(buf, n);
      }
      std::string out;
      {
        std::lock_guard lock(mutex_);
        out = script_;
      }
      net::write(s, net::buffer(out), ec);
      s.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string script_;
};

std::string matrix_yaml(std::uint16_t raw_port) {
  const std::string raw = std::to_string(raw_port);
  return R"(
listen: 127.0.0.1:0
workers: 1
log: { level: off, access: off }
timeouts: { request: 300ms, first_byte: 500ms, stream_idle: 500ms, connect: 1s }
limits: { max_header_bytes: 4096, max_body_bytes: 65536, max_event_bytes: 2048 }
retry: { max_attempts: 1 }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
  - { name: raw, base_url: "http://127.0.0.1:)" +
         raw + R"(/v1", breaker: { enabled: false } }
  - { name: tls, base_url: "https://127.0.0.1:)" +
         raw + R"(/v1", breaker: { enabled: false } }
models:
  - { name: gpt-4o-mini, upstream: mock, model: mock-model }
  - { name: raw-model, upstream: raw }
  - { name: tls-model, upstream: tls }
)";
}

std::string body_for(const std::string& model, bool stream) {
  return R"({"model":")" + model + R"(",)" + (stream ? R"("stream":true,)" : "") +
         R"("messages":[{"role":"user","content":"hi"}]})";
}

std::string raw_post(const std::string& body, const std::string& extra = "") {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One fault: what it does and what the client must see, as `run` reports it: a status ("400"),
// "closed" (the connection closed without an answer) or a stream's final error code.
struct row {
  std::string name;
  std::function<void(raw_upstream&)> setup;       // scripts the raw upstream (may be empty)
  std::function<std::string(std::uint16_t)> run;  // performs the fault; returns what was seen
  std::string want;
};

// The client's view of one exchange, reduced to what the rows assert.
std::string seen_status(const std::string& answer) {
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) {
    return answer.empty() ? "closed" : "garbage";
  }
  return answer.substr(9, 3);
}

std::string send_and_read(std::uint16_t port, const std::string& bytes) {
  client c(port, 5s);
  c.send_raw(bytes);
  return seen_status(c.read_until_close());
}

std::string post_model(std::uint16_t port, const std::string& model, const std::string& extra) {
  return send_and_read(port, raw_post(body_for(model, false), extra + "Connection: close\r\n"));
}

// A stream's final error code ("" when it ended with [DONE]).
std::string stream_final(std::uint16_t port, const std::string& model,
                         std::vector<std::pair<std::string, std::string>> headers) {
  client c(port, 5s);
  auto head = c.start_stream("/v1/chat/completions", body_for(model, true), std::move(headers));
  if (head.status != 200) {
    return "status " + std::to_string(head.status);
  }
  std::string last;
  while (auto e = c.next_event()) {
    last = *e;
  }
  if (last == "[DONE]") {
    return "";
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(last, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) {
    return "no final event: " + last.substr(0, 80);
  }
  return std::string(v.at("error").at("code").as_string());
}

std::vector<row> rows() {
  const std::string chat = body_for("gpt-4o-mini", false);
  std::vector<row> r;
  // --- client faults --------------------------------------------------------------------
  auto client_row = [&](std::string name, std::string bytes, unsigned status) {
    r.push_back({std::move(name), nullptr,
                 [bytes](std::uint16_t p) { return send_and_read(p, bytes); },
                 std::to_string(status)});
  };
  client_row("smuggling: Content-Length + Transfer-Encoding",
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
             400);
  client_row("smuggling: Transfer-Encoding gzip, chunked",
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
             "chunked\r\n\r\n",
             400);
  client_row("smuggling: two Content-Length",
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             "Content-Length: 3\r\n\r\n{}",
             400);
  // RFC 9112 §5.2 lets a server replace obs-fold with a space instead of refusing it (Beast
  // does); the folded value cannot smuggle anything, so this is served.
  client_row("obs-fold header (replaced by a space)",
             "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n", 200);
  client_row("smuggling: bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", 400);
  client_row("no Host on HTTP/1.1", "GET /healthz HTTP/1.1\r\n\r\n", 400);
  client_row("two Host headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  client_row("header flood",
             "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n",
             431);
  client_row("body over the limit",
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
             413);
  client_row(
      "malformed JSON",
      raw_post(R"({"model":"gpt-4o-mini","messages":[{}],"t": tru})", "Connection: close\r\n"),
      400);
  r.push_back({"slowloris: a header that never ends", nullptr,
               [](std::uint16_t p) {
                 client c(p, 5s);
                 c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
                 return seen_status(c.read_until_close());  // timeouts.request: 300 ms
               },
               "closed"});
  r.push_back({"half-close after a whole request", nullptr,
               [chat](std::uint16_t p) {
                 client c(p, 5s);
                 c.send_raw(raw_post(chat));
                 c.shutdown_send();
                 // The client said it will send nothing more; like nginx the gateway takes that
                 // as the client leaving (499, upstream cancelled) or has already answered; either
                 // way the connection must close promptly, never hang.
                 auto seen = seen_status(c.read_until_close());
                 return std::string(seen == "200" || seen == "closed" ? "closed" : seen);
               },
               "closed"});
  r.push_back({"abort mid-stream", nullptr,
               [](std::uint16_t p) {
                 client c(p, 5s);
                 auto head = c.start_stream("/v1/chat/completions", body_for("gpt-4o-mini", true),
                                            {{"x-mock-tokens", "400"}});
                 (void)c.next_event();
                 c.close();
                 return std::string(head.status == 200 ? "closed" : "bad");
               },
               "closed"});
  r.push_back({"connection flood: 64 at once", nullptr,
               [chat](std::uint16_t p) {
                 std::vector<std::unique_ptr<client>> cs;
                 for (int i = 0; i < 64; ++i) {
                   cs.push_back(std::make_unique<client>(p, 5s));
                 }
                 std::size_t ok = 0;
                 for (auto& c : cs) {
                   ok += c->post("/v1/chat/completions", chat).status == 200 ? 1u : 0u;
                 }
                 return std::string(ok == cs.size() ? "200" : "lost");
               },
               std::to_string(200)});
  // --- upstream faults --------------------------------------------------------------------
  auto mock_row = [&](std::string name, std::string fault, unsigned status) {
    r.push_back({std::move(name), nullptr,
                 [fault](std::uint16_t p) {
                   return post_model(p, "gpt-4o-mini", "x-mock-fault: " + fault + "\r\n");
                 },
                 std::to_string(status)});
  };
  mock_row("upstream 500", "status=500", 500);
  mock_row("upstream 429", "status=429", 429);
  mock_row("upstream reset before answering", "reset", 502);
  mock_row("upstream stall before the first byte", "stall", 504);
  auto stream_row = [&](std::string name, std::string fault, std::string code) {
    r.push_back({std::move(name), nullptr,
                 [fault](std::uint16_t p) {
                   return stream_final(p, "gpt-4o-mini",
                                       {{"x-mock-fault", fault}, {"x-mock-tokens", "20"}});
                 },
                 code});
  };
  stream_row("upstream reset mid-stream", "cut_after=3", "upstream_broken");
  stream_row("upstream stall mid-stream", "stall_after=3", "upstream_broken");
  auto raw_row = [&](std::string name, std::string script, std::string model, unsigned status) {
    r.push_back({std::move(name), [script](raw_upstream& u) { u.script(script); },
                 [model](std::uint16_t p) { return post_model(p, model, ""); },
                 std::to_string(status)});
  };
  raw_row("upstream garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\nnot http at all", "raw-model", 502);
  raw_row(
      "upstream huge headers",
      "HTTP/1.1 200 OK\r\n" +
          [] {
            std::string h;
            for (int i = 0; i < 8000; ++i) {
              h += "x-h" + std::to_string(i) + ": value\r\n";
            }
            return h;
          }() +
          "Content-Length: 2\r\n\r\n{}",
      "raw-model", 502);
  raw_row("upstream status line only", "HTTP/1.1 200 OK\r\n", "raw-model", 502);
  raw_row("upstream headers then reset", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
          "raw-model", 502);
  raw_row("upstream error body then reset",
          "HTTP/1.1 500 Internal\r\nContent-Length: 100\r\n\r\n{\"error\"", "raw-model", 502);
  raw_row("upstream TLS failure (plain text on an https upstream)",
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "tls-model", 502);
  r.push_back({"upstream error body over 1 MiB",
               [](raw_upstream& u) {
                 const std::string body(1100 * 1024, 'e');
                 u.script("HTTP/1.1 500 Internal\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body);
               },
               [](std::uint16_t p) {
                 client c(p, 5s);
                 auto res = c.post("/v1/chat/completions", body_for("raw-model", false));
                 // Says what happened, not "closed the response early: Success".
                 return std::to_string(res.status) +
                        (res.body.find("larger than 1048576 bytes") != std::string::npos
                             ? " explained"
                             : " " + res.body.substr(0, 120));
               },
               "502 explained"});
  r.push_back({"upstream oversized SSE event",
               [](raw_upstream& u) {
                 u.script(
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Content-Length: 5010\r\n\r\ndata: {\"x\":\"" +
                     std::string(4990, 'a') + "\"}\n\n");
               },
               [](std::uint16_t p) {
                 return post_model(p, "raw-model", "");  // held before content: retried, 502
               },
               std::to_string(502)});
  return r;
}

TEST(fault_matrix, every_fault_gets_its_answer_and_the_gateway_keeps_serving) {
  raw_upstream raw;
  rig r(matrix_yaml(raw.port()));
  for (const auto& f : rows()) {
    SCOPED_TRACE(f.name);
    if (f.setup) {
      f.setup(raw);
    }
    const auto t0 = steady_clock::now();
    EXPECT_EQ(f.run(r.port()), f.want) << f.name;
    EXPECT_LT(steady_clock::now() - t0, 3s) << f.name << ": every fault is answered promptly";
    // After every fault: a normal request and a normal stream on fresh connections.
    client c(r.port(), 5s);
    EXPECT_EQ(c.post("/v1/chat/completions", body_for("gpt-4o-mini", false)).status, 200u)
        << "after " << f.name;
    EXPECT_EQ(stream_final(r.port(), "gpt-4o-mini", {}), "") << "stream after " << f.name;
  }
}

}  // namespace
}  // namespace switchyard::test
