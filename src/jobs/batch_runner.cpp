#include "switchyard/jobs/batch_runner.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/jobs/batch_finalize.hpp"
#include "switchyard/jobs/batch_validation.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace switchyard {

namespace {

namespace json = boost::json;

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// Lines added to the store per transaction during validation, and fetched per page when run.
constexpr std::size_t validation_chunk = 1000;
constexpr std::size_t pending_page = 256;

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::string random_hex(std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  while (out.size() < n) {
    auto v = random_u64();
    for (int i = 0; i < 16 && out.size() < n; ++i, v >>= 4) {
      out.push_back(digits[v & 15]);
    }
  }
  return out;
}

// `retry-after-ms`, then `retry-after` (seconds), as the gateway's 429 carries them.
std::optional<std::chrono::milliseconds> retry_after_of(
    const http::response<http::string_body>& res) {
  for (auto [name, scale] : {std::pair{"retry-after-ms", 1}, std::pair{"retry-after", 1000}}) {
    auto v = res[name];
    double d = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (!v.empty() && ec == std::errc() && p == v.data() + v.size() && d >= 0) {
      return std::chrono::milliseconds(static_cast<std::int64_t>(d * scale));
    }
  }
  return std::nullopt;
}

// Exponential backoff before attempt `attempt + 1`: retry_base·2^attempt up to retry_cap, with
// "equal jitter" (half fixed, half random) so that a batch's slots do not retry in step.
std::chrono::milliseconds backoff_for(const batches_config& cfg, unsigned attempt) {
  const auto base = static_cast<double>(cfg.retry_base.count());
  const double raw = std::min(static_cast<double>(cfg.retry_cap.count()),
                              base * static_cast<double>(1ULL << std::min(attempt, 20u)));
  return std::chrono::milliseconds(static_cast<std::int64_t>(raw * (0.5 + 0.5 * random01())));
}

}  // namespace

/// One batch being run.
struct batch_runner::run {
  explicit run(net::io_context& io) : done(io), keeper(io) {}
  batch_record rec;
  int fd = -1;
  std::int64_t cursor = 0;  // the last line number fetched
  std::vector<batch_line_ref> queue;
  std::size_t next = 0;
  bool exhausted = false;
  bool cancelled = false;
  bool expired = false;
  bool lost = false;      // the lease could not be renewed: another runner may have the batch
  bool finished = false;  // run_batch is over: the lease keeper ends
  // A store call failed mid-run (Redis unreachable, a full disk): a line's result or the next
  // page is unknown, so the run ends without finalizing (a batch must never end with lines it
  // did not record) and the supervisor's next scan resumes it from what the store has.
  bool store_failed = false;
  std::size_t slots = 0;
  net::steady_timer done;    // cancelled when the last slot ends
  net::steady_timer keeper;  // the lease keeper's wait, cancelled when the run ends
  price_config price;
  ~run() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

/// One concurrency slot: its keep-alive connection to the gateway.
struct batch_runner::slot {
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

batch_runner::batch_runner(const batches_config& cfg, batch_store& store,
                           const config_snapshot* snapshot,
                           metrics::family<metrics::counter>* lines_total)
    : cfg_(cfg),
      store_(store),
      owner_(random_hex(24)),
      snapshot_(snapshot),
      lines_total_(lines_total) {}

batch_runner::~batch_runner() {
  stop(steady_clock::now());
}

void batch_runner::start(std::string host, std::uint16_t port) {
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";  // the wildcard listener also listens on loopback
  } else if (host == "::") {
    host = "::1";
  }
  target_ = tcp::endpoint(net::ip::make_address(host), port);
  work_.emplace(io_.get_executor());
  started_ = true;
  net::co_spawn(io_, supervise(), [](std::exception_ptr e) {
    if (e) {
      spdlog::error("batch runner: supervisor ended with an exception");
    }
  });
  thread_ = std::thread([this] {
    name_thread("sy-batches");
    io_.run();
  });
}

void batch_runner::wake() {
  net::post(io_, [this] { wake_timer_.cancel(); });
}

void batch_runner::cancel(std::string batch_id) {
  net::post(io_, [this, id = std::move(batch_id)] {
    cancelled_.insert(id);
    wake_timer_.cancel();
  });
}

void batch_runner::stop_starting() {
  if (!started_) {
    return;
  }
  net::post(io_, [this] {
    stopping_ = true;
    for (auto* t : sleepers_) {
      t->cancel();
    }
    wake_timer_.cancel();
    check_idle();
  });
}

void batch_runner::stop(steady_clock::time_point deadline) {
  if (!started_ || stopped_) {
    return;
  }
  stopped_ = true;
  net::post(io_, [this] {
    stopping_ = true;
    for (auto* t : sleepers_) {
      t->cancel();
    }
    wake_timer_.cancel();
    check_idle();
  });
  std::unique_lock lock(m_);
  if (!cv_.wait_until(lock, deadline, [this] { return idle_; })) {
    lock.unlock();
    // The deadline: cut the lines still in flight (not recorded: they run again after a restart).
    net::post(io_, [this] {
      for (auto* s : streams_) {
        beast::error_code ec;
        s->socket().close(ec);
      }
    });
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(2), [this] { return idle_; });
  }
  lock.unlock();
  work_.reset();
  io_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void batch_runner::check_idle() {
  if (stopping_ && active_.empty()) {
    std::lock_guard lock(m_);
    idle_ = true;
    cv_.notify_all();
  }
}

void batch_runner::count(bool ok) {
  if (lines_total_) {
    lines_total_->with({ok ? "completed" : "failed"}).inc();
  }
}

net::awaitable<void> batch_runner::sleep(steady_clock::duration d) {
  net::steady_timer t(io_, d);
  sleepers_.insert(&t);
  co_await t.async_wait(use_tuple);
  sleepers_.erase(&t);
}

net::awaitable<void> batch_runner::supervise() {
  while (!stopping_) {
    auto ids = store_.unfinished();
    if (!ids) {
      spdlog::error("batch runner: {}", ids.error().message);
    } else {
      for (auto& id : *ids) {
        if (stopping_ || active_.contains(id)) {
          continue;
        }
        // Another replica's runner may hold it (a shared store): then it is not ours to run.
        auto claimed = store_.claim_lease(id, owner_, cfg_.lease);
        if (!claimed || !*claimed) {
          continue;
        }
        if (active_.insert(id).second) {
          net::co_spawn(io_, run_batch(id), [id](std::exception_ptr e) {
            if (e) {
              spdlog::error("batch runner: batch {} ended with an exception", id);
            }
          });
        }
      }
    }
    wake_timer_.expires_after(cfg_.poll_interval);
    co_await wake_timer_.async_wait(use_tuple);
  }
  check_idle();
}

net::awaitable<void> batch_runner::keep_lease(std::shared_ptr<run> r) {
  const auto every = std::min<steady_clock::duration>(cfg_.poll_interval, cfg_.lease / 3);
  while (!r->finished) {
    r->keeper.expires_after(every);
    co_await r->keeper.async_wait(use_tuple);
    if (r->finished) {
      break;
    }
    auto claimed = store_.claim_lease(r->rec.id, owner_, cfg_.lease);
    if (!claimed || !*claimed) {
      // Lost (or unknowable: the store did not answer): stop starting lines before the lease
      // can have passed to another runner.
      spdlog::warn("batch runner: batch {}: lease lost ({}); stopping its lines", r->rec.id,
                   claimed ? "another replica has it" : claimed.error().message);
      r->lost = true;
      break;
    }
    // A cancel stored through another replica reaches this one here.
    if (auto b = store_.batch(r->rec.id); b && *b) {
      if ((*b)->status == batch_status::cancelling) {
        cancelled_.insert(r->rec.id);
      } else if (is_terminal((*b)->status)) {
        r->lost = true;  // finished elsewhere
        break;
      }
    }
  }
}

net::awaitable<void> batch_runner::run_batch(std::string id) {
  auto rp = std::make_shared<run>(io_);
  run& r = *rp;
  auto loaded = store_.batch(id);
  if (loaded && *loaded) {
    r.rec = std::move(**loaded);
    net::co_spawn(io_, keep_lease(rp), net::detached);
    bool go = true;
    if (r.rec.status == batch_status::validating) {
      go = co_await validate(r);
    }
    if (go && !stopping_ && !r.lost) {
      co_await execute(r);
    }
  } else if (!loaded) {
    spdlog::error("batch runner: {}", loaded.error().message);
  }
  r.finished = true;
  r.keeper.cancel();
  if (!r.lost) {
    // At the end, and at a drain: another replica may take the batch over at once.
    (void)store_.release_lease(id, owner_);
  }
  active_.erase(id);
  cancelled_.erase(id);
  check_idle();
}

net::awaitable<bool> batch_runner::validate(run& r) {
  const auto now = unix_now();
  batch_validation v(r.rec.endpoint, cfg_.max_lines, cfg_.max_line_bytes);
  // A failed validation: the batch is `failed` with its errors, its lines dropped.
  const auto fail = [&]() -> bool {
    if (auto rec = store_.batch(r.rec.id); rec && *rec) {
      r.rec = std::move(**rec);
    }
    r.rec.errors_json = v.errors_json();
    r.rec.status = batch_status::failed;
    r.rec.failed_at = unix_now();
    if (auto s = store_.save_batch(r.rec); !s) {
      spdlog::error("batch runner: {}", s.error().message);
    }
    (void)store_.clear_lines(r.rec.id);
    return false;
  };
  if (auto c = store_.clear_lines(r.rec.id); !c) {  // a validation cut by a restart
    spdlog::error("batch runner: {}", c.error().message);
    co_return false;
  }
  auto local = store_.open_local(r.rec.input_file_id);
  if (!local && local.error().code != errc::not_found) {
    spdlog::error("batch runner: batch {}: {}", r.rec.id, local.error().message);
    co_return false;  // the store did not answer: the next scan tries again
  }
  std::unique_ptr<std::FILE, file_closer> f(local ? ::fdopen(*local, "rb") : nullptr);
  if (local && !f) {
    ::close(*local);
  }
  if (!f) {
    v.file_error("invalid_file", "The input file " + r.rec.input_file_id + " cannot be read.");
    co_return fail();
  }
  line_reader reader(f.get(), cfg_.max_line_bytes);
  std::vector<batch_line_ref> chunk;
  // Lines go to the store a chunk at a time; the store finds duplicate custom_ids.
  const auto flush = [&]() -> bool {
    auto dup = store_.add_lines(r.rec.id, chunk);
    chunk.clear();
    if (!dup) {
      spdlog::error("batch runner: {}", dup.error().message);
      return false;
    }
    for (auto n : *dup) {
      v.duplicate(n);
    }
    return true;
  };
  while (!v.stopped()) {
    auto l = reader.next();
    if (!l) {
      break;
    }
    if (auto ref = v.add(*l)) {
      chunk.push_back(std::move(*ref));
    }
    if (chunk.size() >= validation_chunk) {
      if (!flush()) {
        co_return false;
      }
      co_await net::post(io_, net::use_awaitable);  // let the other batches' I/O run
      if (stopping_ || r.lost) {
        co_return false;  // validation starts over after the restart (or elsewhere)
      }
    }
  }
  if (!chunk.empty() && !flush()) {
    co_return false;
  }
  v.finish();
  if (v.failed()) {
    co_return fail();
  }
  auto rec = store_.batch(r.rec.id);
  if (!rec || !*rec) {
    co_return false;
  }
  r.rec = std::move(**rec);
  r.rec.total = v.requests();
  r.rec.model = v.model();
  if (r.rec.status == batch_status::validating) {  // not cancelled meanwhile
    r.rec.status = batch_status::in_progress;
    r.rec.in_progress_at = now;
  }
  if (auto s = store_.save_batch(r.rec); !s) {
    spdlog::error("batch runner: {}", s.error().message);
    co_return false;
  }
  co_return true;
}

std::optional<batch_line_ref> batch_runner::take(run& r) {
  if (stopping_ || r.cancelled || r.expired || r.lost || r.store_failed) {
    return std::nullopt;
  }
  if (cancelled_.contains(r.rec.id)) {
    r.cancelled = true;
    return std::nullopt;
  }
  if (r.rec.expires_at && unix_now() >= *r.rec.expires_at) {
    r.expired = true;
    return std::nullopt;
  }
  if (r.next == r.queue.size() && !r.exhausted) {
    auto page = store_.pending(r.rec.id, r.cursor, pending_page);
    if (!page) {
      spdlog::error("batch runner: batch {}: {}; resuming it later", r.rec.id,
                    page.error().message);
      r.store_failed = true;
      return std::nullopt;
    }
    r.queue = std::move(*page);
    r.next = 0;
    if (r.queue.empty()) {
      r.exhausted = true;
    } else {
      r.cursor = r.queue.back().line_no;
    }
  }
  if (r.next == r.queue.size()) {
    return std::nullopt;
  }
  return std::move(r.queue[r.next++]);
}

net::awaitable<void> batch_runner::execute(run& r) {
  if (r.rec.status == batch_status::in_progress || r.rec.status == batch_status::cancelling) {
    r.cancelled = r.rec.status == batch_status::cancelling;
    auto local = store_.open_local(r.rec.input_file_id);
    if (!local && local.error().code != errc::not_found) {
      spdlog::error("batch runner: batch {}: {}", r.rec.id, local.error().message);
      co_return;  // the store did not answer: the next scan tries again
    }
    r.fd = local ? *local : -1;
    if (auto p = snapshot_ ? snapshot_->current() : nullptr; p && p->cfg) {
      if (const auto* m = p->cfg->find_model(r.rec.model)) {
        r.price = m->price;
      }
    }
    if (r.fd < 0) {
      spdlog::error("batch runner: batch {}: the input file is gone", r.rec.id);
      r.cancelled = false;
    }
    r.slots = cfg_.concurrency;
    for (unsigned i = 0; i < cfg_.concurrency; ++i) {
      net::co_spawn(io_, run_slot(r), [id = r.rec.id](std::exception_ptr e) {
        if (e) {
          spdlog::error("batch runner: a slot of batch {} ended with an exception", id);
        }
      });
    }
    r.done.expires_at(steady_clock::time_point::max());
    co_await r.done.async_wait(use_tuple);  // cancelled by the last slot
    if (stopping_ || r.lost || r.store_failed) {
      co_return;  // resumed after the restart (or by the lease's new holder), where it stopped
    }
  }
  // Re-read: a cancel may have been stored while the lines ran.
  if (auto rec = store_.batch(r.rec.id); rec && *rec) {
    r.rec.status = (*rec)->status;
  }
  batch_status final_status = batch_status::completed;
  if (r.cancelled || r.rec.status == batch_status::cancelling ||
      (r.rec.status == batch_status::finalizing && r.rec.cancelling_at)) {
    final_status = batch_status::cancelled;
  } else if (r.expired) {
    if (!expire_rest(r)) {
      co_return;  // the store failed: the next scan finishes the expiry
    }
    final_status = batch_status::expired;
  }
  if (final_status == batch_status::completed) {
    // Completed means every line has its result. A line whose record failed (the store did
    // not answer) is still pending: then the batch is not done, and the next scan runs it.
    auto left = store_.pending(r.rec.id, 0, 1);
    if (!left || !left->empty()) {
      spdlog::warn("batch runner: batch {}: {}; resuming it later", r.rec.id,
                   left ? "lines without a recorded result" : left.error().message);
      co_return;
    }
  }
  if (auto f = finalize_batch(store_, r.rec.id, final_status, unix_now()); !f) {
    spdlog::error("batch runner: batch {}: {}", r.rec.id, f.error().message);
  }
}

bool batch_runner::expire_rest(run& r) {
  // OpenAI writes every request the window did not reach to the error file as batch_expired.
  std::int64_t after = 0;
  for (;;) {
    auto page = store_.pending(r.rec.id, after, pending_page);
    if (!page) {
      spdlog::error("batch runner: batch {}: {}", r.rec.id, page.error().message);
      return false;
    }
    if (page->empty()) {
      return true;
    }
    for (const auto& l : *page) {
      batch_line_result res{
          l.line_no,
          false,
          batch_error_line("batch_req_" + random_hex(32), l.custom_id, "batch_expired",
                           "This request could not be executed before the "
                           "completion window expired."),
          {},
          0};
      auto rec = store_.record(r.rec.id, res);
      if (!rec) {
        spdlog::error("batch runner: batch {}: {}", r.rec.id, rec.error().message);
        return false;
      }
      if (*rec) {
        count(false);
      }
      after = l.line_no;
    }
  }
}

net::awaitable<void> batch_runner::run_slot(run& r) {
  slot s;
  while (auto ref = take(r)) {
    if (r.fd < 0) {
      break;
    }
    ++in_flight_;
    co_await run_line(r, s, *ref);
    --in_flight_;
  }
  if (s.stream) {
    streams_.erase(&*s.stream);
    beast::error_code ec;
    s.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
  }
  if (--r.slots == 0) {
    r.done.cancel();
  }
}

net::awaitable<void> batch_runner::run_line(run& r, slot& s, const batch_line_ref& ref) {
  std::string text(ref.length, '\0');
  const auto got = ::pread(r.fd, text.data(), text.size(), static_cast<off_t>(ref.offset));
  const std::string req_id = "batch_req_" + random_hex(32);
  batch_line_result res;
  res.line_no = ref.line_no;
  auto line = got == static_cast<ssize_t>(text.size())
                  ? validate_batch_line(text, r.rec.endpoint)
                  : boost::system::result<batch_line, batch_line_error>(
                        batch_line_error{"invalid_file", "The input file changed.", ""});
  if (!line) {
    res.output = batch_error_line(req_id, ref.custom_id, line.error().code, line.error().message);
  } else {
    unsigned attempt = 0;
    std::optional<std::chrono::milliseconds> backoff;
    for (;;) {
      if (backoff) {
        co_await sleep(*backoff);
        backoff.reset();
      }
      if (stopping_) {
        co_return;  // not recorded: runs again after the restart
      }
      if (r.rec.expires_at && unix_now() >= *r.rec.expires_at) {
        r.expired = true;
        co_return;  // recorded as batch_expired by expire_rest
      }
      http::request<http::string_body> req{http::verb::post, line->url, 11};
      req.set(http::field::host, "localhost");
      req.set(http::field::content_type, "application/json");
      req.set(http::field::user_agent, "switchyard-batch");
      req.set("x-switchyard-priority", "batch");
      req.set("x-switchyard-batch-id", r.rec.id);
      if (!r.rec.authorization.empty()) {
        req.set(http::field::authorization, r.rec.authorization);
      }
      req.body() = line->body;
      req.prepare_payload();
      beast::error_code ec;
      const bool reused = s.stream.has_value();
      if (!s.stream) {
        s.stream.emplace(io_);
        streams_.insert(&*s.stream);
        s.stream->expires_after(cfg_.line_timeout);
        std::tie(ec) = co_await s.stream->async_connect(target_, use_tuple);
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(cfg_.max_response_bytes);
      if (!ec) {
        s.stream->expires_after(cfg_.line_timeout);
        std::tie(ec, std::ignore) = co_await http::async_write(*s.stream, req, use_tuple);
      }
      if (!ec) {
        std::tie(ec, std::ignore) =
            co_await http::async_read(*s.stream, s.buffer, parser, use_tuple);
      }
      if (ec) {
        streams_.erase(&*s.stream);
        s.stream.reset();
        s.buffer.clear();
        if (stopping_) {
          co_return;
        }
        if (reused && !parser.got_some()) {
          continue;  // a kept-alive connection the gateway had closed: resend at once, free
        }
        if (++attempt >= cfg_.max_attempts) {
          const bool timeout = ec == beast::error::timeout;
          res.output = batch_error_line(
              req_id, ref.custom_id, timeout ? "request_timeout" : "request_failed",
              timeout ? "The request did not finish within batches.line_timeout."
                      : "The request could not be sent to the gateway: " + ec.message());
          break;
        }
        backoff = backoff_for(cfg_, attempt);
        continue;
      }
      auto msg = parser.release();
      if (!msg.keep_alive()) {
        streams_.erase(&*s.stream);
        s.stream.reset();
        s.buffer.clear();
      }
      const unsigned status = msg.result_int();
      if (status == 429) {
        // Live traffic has the limits: wait (jittered, at least what the gateway says), and
        // try again without spending an attempt; the completion window bounds the waiting.
        auto wait = retry_after_of(msg).value_or(cfg_.retry_base);
        wait = std::min(cfg_.retry_cap, std::max(wait, cfg_.retry_base));
        backoff = std::chrono::milliseconds(
            static_cast<std::int64_t>(static_cast<double>(wait.count()) * (1.0 + random01())));
        continue;
      }
      if (status >= 500 && status != 501 && ++attempt < cfg_.max_attempts) {
        if (stopping_) {
          co_return;  // a draining gateway's 503: the line runs after the restart
        }
        backoff = backoff_for(cfg_, attempt);
        continue;
      }
      if (status == 503 && stopping_) {
        co_return;
      }
      res.ok = status >= 200 && status < 300;
      res.output =
          batch_output_line(req_id, ref.custom_id, status, msg["x-request-id"], msg.body());
      if (res.ok) {
        res.usage = usage_of(msg.body());
        res.cost_usd = (static_cast<double>(res.usage.input_tokens) * r.price.input_per_mtok +
                        static_cast<double>(res.usage.output_tokens) * r.price.output_per_mtok) /
                       1e6;
      }
      break;
    }
  }
  auto recorded = store_.record(r.rec.id, res);
  if (!recorded) {
    // Not recorded, so it runs again when the batch resumes (docs/batches.md, "exactly once").
    spdlog::error("batch runner: batch {} line {}: {}; it runs again when the batch resumes",
                  r.rec.id, ref.line_no, recorded.error().message);
    r.store_failed = true;
  } else if (*recorded) {
    count(res.ok);
  }
}

}  // namespace switchyard
