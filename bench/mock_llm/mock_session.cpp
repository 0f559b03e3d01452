// Connection handler of the mock LLM, request side: HTTP/1.1 keep-alive, routing, faults and
// plain JSON answers. Delays and SSE are in mock_stream.cpp.

#include "mock_session_impl.hpp"

#include <algorithm>
#include <tuple>

namespace switchyard::mock::detail {

using namespace std::chrono_literals;

namespace {

/// Puts a connection on its worker's list for stop(), and takes it off however the coroutine
/// ends.
class registration {
 public:
  registration(worker& w, beast::tcp_stream& stream)
      : worker_(w), it_(w.open.insert(w.open.end(), &stream)) {}
  ~registration() { worker_.open.erase(it_); }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;

 private:
  worker& worker_;
  std::list<beast::tcp_stream*>::iterator it_;
};

result<timing> read_timing(const request& req, const options& opts) {
  timing t{static_cast<std::uint64_t>(std::max(opts.tokens, 0)), opts.ttft, opts.inter_token};
  auto tokens = parse_count_header("x-mock-tokens", req["x-mock-tokens"], max_tokens_header);
  auto ttft = parse_count_header("x-mock-ttft-ms", req["x-mock-ttft-ms"], max_delay_ms);
  auto inter =
      parse_count_header("x-mock-inter-token-ms", req["x-mock-inter-token-ms"], max_delay_ms);
  for (auto* r : {&tokens, &ttft, &inter}) {
    if (!*r) {
      return r->error();
    }
  }
  t.tokens = tokens->value_or(t.tokens);
  if (*ttft) {
    t.ttft = milliseconds(static_cast<milliseconds::rep>(**ttft));
  }
  if (*inter) {
    t.inter_token = milliseconds(static_cast<milliseconds::rep>(**inter));
  }
  return t;
}

bool is_http_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

template <class Stream>
net::awaitable<void> session<Stream>::run() {
  const registration reg(worker_, lowest());
  if (worker_.stopping) {
    co_return;
  }
  boost::system::error_code ec;
  // Events are small writes that must leave at once; Nagle would hold them for an ACK.
  lowest().socket().set_option(tcp::no_delay(true), ec);
  if constexpr (is_tls) {
    lowest().expires_after(handshake_timeout);
    auto [hs_ec] = co_await stream_.async_handshake(ssl::stream_base::server, use_tuple);
    if (hs_ec) {
      co_return;
    }
  }
  ending e = ending::keep_alive;
  while (e == ending::keep_alive) {
    e = co_await serve_one();
  }
  co_await finish(e);
}

template <class Stream>
net::awaitable<ending> session<Stream>::serve_one() {
  parser_.emplace();
  parser_->body_limit(body_limit);
  parser_->header_limit(header_limit);
  lowest().expires_after(idle_timeout);  // one deadline for the whole request
  auto [ec, bytes] = co_await http::async_read_header(stream_, buffer_, *parser_, use_tuple);
  if (!ec && beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    // curl asks for it on large bodies and would otherwise wait a second before sending one.
    http::response<http::empty_body> go_on{http::status::continue_, 11};
    std::tie(ec, bytes) = co_await http::async_write(stream_, go_on, use_tuple);
  }
  if (!ec && !parser_->is_done()) {
    std::tie(ec, bytes) = co_await http::async_read(stream_, buffer_, *parser_, use_tuple);
  }
  if (ec && ec != http::error::body_limit && ec != http::error::header_limit &&
      (!is_http_parse_error(ec) || ec == http::error::end_of_stream ||
       ec == http::error::partial_message)) {
    co_return ending::close;  // the peer closed, timed out or reset: nobody to answer
  }
  request& req = parser_->get();
  const std::uint64_t id = shared_.counters.requests.fetch_add(1, std::memory_order_relaxed) + 1;
  record(req);
  if (ec) {
    force_close_ = true;
    const unsigned status = ec == http::error::body_limit     ? 413
                            : ec == http::error::header_limit ? 431
                                                              : 400;
    co_return co_await send(req, id, make_error(status, ec.message(), "invalid_request_error"));
  }
  co_return co_await respond(req, id);
}

template <class Stream>
net::awaitable<ending> session<Stream>::respond(request& req, std::uint64_t id) {
  const auto parsed_fault = parse_fault(req["x-mock-fault"]);
  if (!parsed_fault) {
    co_return co_await send(req, id, parsed_fault.error());
  }
  fault f = *parsed_fault;
  if (f.times > 0) {
    // Fail only the first `times` tries of this request (the gateway retries with the same id).
    std::lock_guard lock(shared_.last_mutex);
    auto& hits = shared_.fault_hits[std::string(req["x-request-id"])];
    if (++hits > f.times) {
      f = fault{};
    }
  }
  switch (f.what) {
    case fault::kind::status:
      co_return co_await send(req, id, fault_error(f.status), &f);
    case fault::kind::reset:
      co_return ending::reset;
    case fault::kind::stall:
      co_await watch_peer();  // until the peer or stop() closes the connection
      shared_.counters.stalls_ended.fetch_add(1, std::memory_order_relaxed);
      co_return ending::drop;
    default:
      break;
  }
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  const bool post = req.method() == http::verb::post;
  const bool get = req.method() == http::verb::get;
  if (post && path == "/v1/chat/completions") {
    co_return co_await generate(req, id, generation_plan::api::chat, f);
  }
  if (post && path == "/v1/completions") {
    co_return co_await generate(req, id, generation_plan::api::completions, f);
  }
  if (post && path == "/v1/embeddings") {
    co_return co_await embeddings(req, id);
  }
  if (get && path == "/v1/models") {
    co_return co_await send(req, id, 200, std::string(models_body()));
  }
  constexpr std::string_view model_prefix = "/v1/models/";
  if (get && path.starts_with(model_prefix)) {
    const std::string_view model = path.substr(model_prefix.size());
    if (model == "mock-model") {
      co_return co_await send(req, id, 200, std::string(model_body()));
    }
    co_return co_await send(req, id, model_not_found(model));
  }
  std::string message = "Invalid URL (";
  message.append(req.method_string()).append(" ").append(path).append(")");
  co_return co_await send(req, id,
                          make_error(404, message, "invalid_request_error", {}, "unknown_url"));
}

template <class Stream>
net::awaitable<ending> session<Stream>::generate(request& req, std::uint64_t id,
                                                 generation_plan::api api, const fault& f) {
  auto parsed = parse_generation(req.body());
  if (!parsed) {
    co_return co_await send(req, id, parsed.error());
  }
  generation_request& g = *parsed;
  if (g.model == "mock-404") {
    co_return co_await send(req, id, model_not_found(g.model));
  }
  const auto t = read_timing(req, shared_.opts);
  if (!t) {
    co_return co_await send(req, id, t.error());
  }
  generation_plan plan;
  plan.kind = api;
  plan.model = std::move(g.model);
  plan.id = id;
  plan.created = unix_now();
  plan.tokens = std::min(t->tokens, g.max_tokens.value_or(t->tokens));
  plan.length_capped = plan.tokens < t->tokens;
  plan.n = g.n;
  plan.include_usage = g.stream && g.include_usage;
  plan.prompt_tokens = estimate_prompt_tokens(req.body().size());
  if (plan.tokens * plan.n > max_answer_tokens) {
    co_return co_await send(
        req, id, make_error(400, "mock: tokens x n exceeds 1000000", "invalid_request_error"));
  }
  if (g.stream) {
    co_return co_await stream(req, id, plan, f, *t);
  }
  // A model has to generate every token before a non-streamed answer can leave.
  const auto steps = static_cast<milliseconds::rep>(plan.tokens > 0 ? plan.tokens - 1 : 0);
  const milliseconds delay = t->ttft + t->inter_token * steps;
  if (delay > 0ms && !co_await sleep_watching(delay)) {
    co_return ending::drop;
  }
  co_return co_await send(req, id, 200, render_completion(plan));
}

template <class Stream>
net::awaitable<ending> session<Stream>::embeddings(request& req, std::uint64_t id) {
  auto parsed = parse_embedding(req.body());
  if (!parsed) {
    co_return co_await send(req, id, parsed.error());
  }
  if (parsed->model == "mock-404") {
    co_return co_await send(req, id, model_not_found(parsed->model));
  }
  const auto t = read_timing(req, shared_.opts);
  if (!t) {
    co_return co_await send(req, id, t.error());
  }
  if (t->ttft > 0ms && !co_await sleep_watching(t->ttft)) {
    co_return ending::drop;
  }
  co_return co_await send(req, id, 200, render_embeddings(*parsed));
}

template <class Stream>
net::awaitable<ending> session<Stream>::send(const request& req, std::uint64_t id, unsigned status,
                                             std::string body, const fault* f) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  set_ids(res, req, id);
  if (f != nullptr && !f->retry_after.empty()) {
    res.set(http::field::retry_after, f->retry_after);
  }
  if (f != nullptr && !f->retry_after_ms.empty()) {
    res.set("retry-after-ms", f->retry_after_ms);
  }
  res.keep_alive(req.keep_alive() && !force_close_);
  res.body() = std::move(body);
  res.prepare_payload();
  lowest().expires_after(write_timeout);
  auto [ec, bytes] = co_await http::async_write(stream_, res, use_tuple);
  if (ec) {
    co_return ending::drop;
  }
  co_return res.keep_alive() ? ending::keep_alive : ending::close;
}

template <class Stream>
net::awaitable<void> session<Stream>::finish(ending e) {
  boost::system::error_code ec;
  if (e == ending::reset) {
    lowest().socket().set_option(net::socket_base::linger(true, 0), ec);
  }
  if constexpr (is_tls) {
    if (e == ending::close) {
      lowest().expires_after(tls_shutdown_timeout);
      co_await stream_.async_shutdown(use_tuple);
    }
  }
  if (e == ending::close) {
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  lowest().close();
}

template <class Stream>
void session<Stream>::record(const request& req) {
  // Assigned into the previous record so that its strings' capacity is reused.
  const std::lock_guard lock(shared_.last_mutex);
  recorded_request& last = shared_.last;
  last.method.assign(req.method_string());
  last.target.assign(req.target());
  last.body.assign(req.body());
  std::size_t n = 0;
  for (const auto& field : req) {
    if (n == last.headers.size()) {
      last.headers.emplace_back();
    }
    auto& [name, value] = last.headers[n++];
    name.assign(field.name_string());
    for (char& c : name) {
      c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    value.assign(field.value());
  }
  last.headers.resize(n);
}

template class session<beast::tcp_stream>;
template class session<ssl::stream<beast::tcp_stream>>;

net::awaitable<void> serve_connection(shared_state& shared, worker& w, tcp::socket socket) {
  if (shared.tls) {
    session<ssl::stream<beast::tcp_stream>> s(shared, w, std::move(socket), *shared.tls);
    co_await s.run();
  } else {
    session<beast::tcp_stream> s(shared, w, std::move(socket));
    co_await s.run();
  }
}

}  // namespace switchyard::mock::detail
