// The Redis client's I/O: one thread ("sy-redis") with its own io_context, a pipelined command
// connection and (when asked) a subscriber connection, each a coroutine that connects, serves
// and reconnects with jittered backoff. RESP is parsed by hiredis's redisReader.
#include "switchyard/store/redis_client.hpp"

#include "switchyard/core/background_thread.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;
using namespace std::chrono_literals;

// A reply larger than this (or a reader buffer that grows past it) closes the connection: the
// gateway never asks for one, so it is a broken or hostile peer.
constexpr std::size_t max_reply_bytes = 64u << 20;
// A connection whose oldest call is this far past its deadline is considered hung.
constexpr auto stall_grace = 1s;
constexpr auto sweep_interval = 10ms;

error unavailable(std::string why) {
  return make_error(errc::unavailable, "redis: " + std::move(why));
}

struct reader_deleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
using reader_ptr = std::unique_ptr<redisReader, reader_deleter>;

// True once the coroutine was cancelled (by the `||` group its connection runs in).
net::awaitable<bool> cancelled() {
  auto cs = co_await net::this_coro::cancellation_state;
  co_return cs.cancelled() != net::cancellation_type::none;
}

struct call {
  std::size_t expected = 0;
  std::vector<redis_reply> replies;
  steady_clock::time_point deadline;
  redis_client::completion done;  // empty once completed (a late reply is then dropped)
};

}  // namespace

struct redis_client::impl {
  redis_endpoint ep;
  duration connect_timeout;
  net::io_context io{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  std::mutex submit_mutex;  // orders submissions before the final close (stop)
  bool stopped = false;     // submit_mutex
  std::atomic<bool> up{false};
  std::atomic<std::uint64_t> errors{0}, connect_errors{0};
  std::minstd_rand rng{std::random_device{}()};

  struct connection {
    explicit connection(net::io_context& io) : socket(io), wake(io) {}
    tcp::socket socket;
    net::steady_timer wake;  // the writer's signal: cancelled when `out` has bytes
    reader_ptr reader;
    std::string out;
    std::deque<std::shared_ptr<call>> inflight;  // written (or queued), awaiting replies
    bool is_up = false;
    bool down_logged = false;
  };
  connection main{io};
  connection sub{io};
  bool sub_started = false;
  struct channel {
    std::function<void(std::string_view, std::string_view)> on_message;
    std::function<void()> on_resubscribed;
  };
  std::map<std::string, channel, std::less<>> channels;  // redis thread only

  void fail_call(call& c, const std::string& why) {
    if (c.done) {
      errors.fetch_add(1, std::memory_order_relaxed);
      auto done = std::move(c.done);
      c.done = nullptr;
      done(unavailable(why));
    }
  }

  void fail_all(connection& c, const std::string& why) {
    auto calls = std::move(c.inflight);
    c.inflight.clear();
    c.out.clear();
    for (auto& p : calls) {
      fail_call(*p, why);
    }
  }

  // Runs on the redis thread.
  void enqueue(std::shared_ptr<call> p, std::string bytes) {
    if (!main.is_up) {
      fail_call(*p, "not connected to " + ep.describe());
      return;
    }
    main.out += bytes;
    main.inflight.push_back(std::move(p));
    main.wake.cancel();
  }

  void deliver(connection& c, redis_reply r) {
    if (c.inflight.empty()) {
      return;  // not asked for (cannot happen on a sane connection); dropped
    }
    call& front = *c.inflight.front();
    front.replies.push_back(std::move(r));
    if (front.replies.size() < front.expected) {
      return;
    }
    auto p = std::move(c.inflight.front());
    c.inflight.pop_front();
    if (p->done) {
      auto done = std::move(p->done);
      p->done = nullptr;
      done(std::move(p->replies));
    }
  }

  void on_sub_reply(const redis_reply& r) {
    if (r.kind != redis_reply::type::array || r.elements.size() < 3 ||
        r.elements[0].kind != redis_reply::type::string) {
      return;
    }
    const std::string& kind = r.elements[0].str;
    const std::string& ch = r.elements[1].str;
    auto it = channels.find(ch);
    if (it == channels.end()) {
      return;
    }
    if (kind == "message") {
      if (it->second.on_message) {
        it->second.on_message(ch, r.elements[2].str);
      }
    } else if (kind == "subscribe") {
      if (it->second.on_resubscribed) {
        it->second.on_resubscribed();
      }
    }
  }

  // Reads at least one reply into `out` (or fails).
  net::awaitable<bool> read_some(connection& c, std::vector<redis_reply>& out) {
    std::array<char, 16384> buf;
    for (;;) {
      for (;;) {
        void* reply = nullptr;
        if (redisReaderGetReply(c.reader.get(), &reply) != REDIS_OK) {
          spdlog::warn("redis {}: protocol error: {}", ep.describe(), c.reader->errstr);
          co_return false;
        }
        if (!reply) {
          break;
        }
        out.push_back(convert_redis_reply(reply));
        freeReplyObject(reply);
      }
      if (!out.empty()) {
        co_return true;
      }
      if (c.reader->len > max_reply_bytes) {
        spdlog::warn("redis {}: a reply over {} bytes; reconnecting", ep.describe(),
                     max_reply_bytes);
        co_return false;
      }
      auto [ec, n] = co_await c.socket.async_read_some(net::buffer(buf), use_tuple);
      if (ec) {
        co_return false;
      }
      if (redisReaderFeed(c.reader.get(), buf.data(), n) != REDIS_OK) {
        co_return false;
      }
    }
  }

  net::awaitable<void> read_loop(connection& c, bool subscriber) {
    std::vector<redis_reply> replies;
    for (;;) {
      replies.clear();
      if (!co_await read_some(c, replies)) {
        co_return;
      }
      for (auto& r : replies) {
        if (subscriber) {
          on_sub_reply(r);
        } else {
          deliver(c, std::move(r));
        }
      }
    }
  }

  net::awaitable<void> write_loop(connection& c) {
    std::string writing;
    for (;;) {
      if (c.out.empty()) {
        c.wake.expires_at(steady_clock::time_point::max());
        co_await c.wake.async_wait(use_tuple);  // cancelled = bytes to write (or closing)
        if (!c.socket.is_open() || co_await cancelled()) {
          co_return;
        }
        continue;
      }
      writing.clear();
      writing.swap(c.out);
      auto [ec, n] = co_await net::async_write(c.socket, net::buffer(writing), use_tuple);
      if (ec) {
        co_return;
      }
    }
  }

  // Closes a connection whose oldest call is long overdue (a hung server): its calls have
  // failed by their deadlines already; the reconnect gives the next ones a chance.
  net::awaitable<void> watchdog(connection& c) {
    net::steady_timer t(io);
    for (;;) {
      t.expires_after(sweep_interval);
      co_await t.async_wait(use_tuple);
      if (co_await cancelled()) {
        co_return;
      }
      const auto now = steady_clock::now();
      for (auto& p : c.inflight) {
        if (p->done && now >= p->deadline) {
          fail_call(*p, "no reply before the deadline");
        }
      }
      if (!c.inflight.empty() && now >= c.inflight.front()->deadline + stall_grace) {
        spdlog::warn("redis {}: no reply for {} ms past a deadline; reconnecting", ep.describe(),
                     std::chrono::duration_cast<std::chrono::milliseconds>(stall_grace).count());
        co_return;
      }
    }
  }

  std::vector<std::vector<std::string>> handshake_commands(bool subscriber) const {
    std::vector<std::vector<std::string>> cmds;
    if (!ep.password.empty()) {
      if (ep.user.empty()) {
        cmds.push_back({"AUTH", ep.password});
      } else {
        cmds.push_back({"AUTH", ep.user, ep.password});
      }
    }
    if (ep.db != 0 && !subscriber) {
      cmds.push_back({"SELECT", std::to_string(ep.db)});
    }
    return cmds;
  }

  // TCP connect and AUTH/SELECT within connect_timeout. The reason of a failure is logged by
  // the caller once per episode; it never contains the password.
  net::awaitable<std::optional<std::string>> connect(connection& c, bool subscriber) {
    beast::error_code ignored;
    c.socket.close(ignored);
    c.reader.reset(redisReaderCreate());
    c.reader->maxbuf = 1 << 20;
    net::steady_timer t(io);
    t.expires_after(connect_timeout);
    tcp::resolver resolver(io);
    auto resolved = co_await (resolver.async_resolve(ep.host, std::to_string(ep.port), use_tuple) ||
                              t.async_wait(use_tuple));
    if (resolved.index() == 1) {
      co_return "resolving the host timed out";
    }
    auto [rec, endpoints] = std::get<0>(resolved);
    if (rec) {
      co_return "cannot resolve the host: " + rec.message();
    }
    auto connected =
        co_await (net::async_connect(c.socket, endpoints, use_tuple) || t.async_wait(use_tuple));
    if (connected.index() == 1) {
      c.socket.close(ignored);
      co_return "connect timed out";
    }
    if (auto [cec, _] = std::get<0>(connected); cec) {
      co_return "connect: " + cec.message();
    }
    c.socket.set_option(tcp::no_delay(true), ignored);
    const auto cmds = handshake_commands(subscriber);
    if (cmds.empty()) {
      co_return std::nullopt;
    }
    std::string bytes;
    for (const auto& cmd : cmds) {
      bytes += format_redis_command(cmd);
    }
    auto wrote = co_await (net::async_write(c.socket, net::buffer(bytes), use_tuple) ||
                           t.async_wait(use_tuple));
    if (wrote.index() == 1 || std::get<0>(std::get<0>(wrote))) {
      c.socket.close(ignored);
      co_return "handshake write failed";
    }
    std::vector<redis_reply> replies;
    while (replies.size() < cmds.size()) {
      auto got = co_await (read_some(c, replies) || t.async_wait(use_tuple));
      if (got.index() == 1 || !std::get<0>(got)) {
        c.socket.close(ignored);
        co_return "handshake timed out or failed";
      }
    }
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      if (replies[i].kind == redis_reply::type::error) {
        c.socket.close(ignored);
        // The server's text (e.g. WRONGPASS) never echoes the password.
        co_return cmds[i][0] + " refused: " + replies[i].str;
      }
    }
    co_return std::nullopt;
  }

  duration backoff(int attempt) {
    const auto base = std::min<std::int64_t>(2000, 50LL << std::min(attempt, 6));
    std::uniform_int_distribution<std::int64_t> jitter(base / 2, base + base / 2);
    return duration(jitter(rng));
  }

  net::awaitable<void> run(connection& c, bool subscriber) {
    const char* what = subscriber ? "subscriber" : "store";
    int attempt = 0;
    for (;;) {
      auto failure = co_await connect(c, subscriber);
      if (!failure) {
        attempt = 0;
        if (c.down_logged) {
          spdlog::info("{} back: redis {}", what, ep.describe());
        }
        c.down_logged = false;
        c.is_up = true;
        if (!subscriber) {
          up.store(true);
        } else if (!channels.empty()) {
          std::vector<std::string> cmd{"SUBSCRIBE"};
          for (const auto& [name, _] : channels) {
            cmd.push_back(name);
          }
          c.out += format_redis_command(cmd);
        }
        co_await (read_loop(c, subscriber) || write_loop(c) || watchdog(c));
        c.is_up = false;
        if (!subscriber) {
          up.store(false);
        }
        beast::error_code ignored;
        c.socket.close(ignored);
        fail_all(c, "connection to " + ep.describe() + " lost");
        failure = "connection lost";
      } else {
        connect_errors.fetch_add(1, std::memory_order_relaxed);
      }
      if (!c.down_logged) {
        spdlog::warn("{} unavailable: redis {}: {}", what, ep.describe(), *failure);
        c.down_logged = true;
      }
      net::steady_timer t(io);
      t.expires_after(backoff(attempt++));
      co_await t.async_wait(use_tuple);
    }
  }

  void spawn(connection& c, bool subscriber) {
    // Runs until the io_context stops (stop()); the handler only reports a bug.
    net::co_spawn(io, run(c, subscriber), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("redis connection loop ended with an exception: {}", ex.what());
        }
      }
    });
  }
};

redis_client::redis_client(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

std::shared_ptr<redis_client> redis_client::start(redis_endpoint ep, duration connect_timeout) {
  auto i = std::make_unique<impl>();
  i->ep = std::move(ep);
  i->connect_timeout = connect_timeout;
  i->work.emplace(i->io.get_executor());
  std::shared_ptr<redis_client> c(new redis_client(std::move(i)));
  impl* p = c->impl_.get();
  p->spawn(p->main, false);
  p->thread = std::thread([p] {
    name_thread("sy-redis");
    p->io.run();
  });
  return c;
}

redis_client::~redis_client() {
  stop();
}

void redis_client::stop() {
  impl& i = *impl_;
  {
    std::lock_guard lock(i.submit_mutex);
    if (i.stopped) {
      return;
    }
    i.stopped = true;
    // After every submission made before it: those fail here, none is left waiting.
    net::post(i.io, [&i] {
      i.up.store(false);
      i.main.is_up = false;
      i.fail_all(i.main, "the client stopped");
      i.io.stop();
    });
  }
  i.work.reset();
  if (i.thread.joinable()) {
    i.thread.join();
  }
}

bool redis_client::connected() const noexcept {
  return impl_->up.load();
}

bool redis_client::wait_connected(duration timeout) const {
  const auto deadline = steady_clock::now() + timeout;
  while (!impl_->up.load()) {
    if (steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::uint64_t redis_client::errors() const noexcept {
  return impl_->errors.load();
}

std::uint64_t redis_client::connect_errors() const noexcept {
  return impl_->connect_errors.load();
}

void redis_client::submit(std::vector<std::vector<std::string>> commands, duration deadline,
                          completion done) {
  impl& i = *impl_;
  auto p = std::make_shared<call>();
  p->expected = commands.size();
  p->deadline = steady_clock::now() + deadline;
  p->done = std::move(done);
  if (commands.empty()) {
    p->done(std::vector<redis_reply>{});
    return;
  }
  if (!i.up.load()) {
    i.fail_call(*p, "not connected to " + i.ep.describe());  // fail fast, on the caller's thread
    return;
  }
  std::string bytes;
  for (const auto& c : commands) {
    bytes += format_redis_command(c);
  }
  std::lock_guard lock(i.submit_mutex);
  if (i.stopped) {
    i.fail_call(*p, "the client stopped");
    return;
  }
  net::post(i.io, [&i, p = std::move(p), bytes = std::move(bytes)]() mutable {
    i.enqueue(std::move(p), std::move(bytes));
  });
}

result<std::vector<redis_reply>> redis_client::pipeline_sync(
    std::vector<std::vector<std::string>> cmds, duration deadline) {
  auto promise = std::make_shared<std::promise<result<std::vector<redis_reply>>>>();
  auto future = promise->get_future();
  submit(std::move(cmds), deadline,
         [promise](result<std::vector<redis_reply>> r) { promise->set_value(std::move(r)); });
  // The redis thread completes every call by its deadline (its sweep runs every 10 ms); the
  // extra second only guards against a stopped thread.
  if (future.wait_for(deadline + 1s) != std::future_status::ready) {
    return unavailable("no reply before the deadline");
  }
  return future.get();
}

result<redis_reply> redis_client::command_sync(std::vector<std::string> argv, duration deadline) {
  std::vector<std::vector<std::string>> cmds;
  cmds.push_back(std::move(argv));
  auto r = pipeline_sync(std::move(cmds), deadline);
  if (!r) {
    return r.error();
  }
  return std::move(r->front());
}

net::awaitable<result<std::vector<redis_reply>>> redis_client::pipeline(
    std::vector<std::vector<std::string>> commands, duration deadline) {
  using signature = void(result<std::vector<redis_reply>>);
  co_return co_await net::async_initiate<decltype(net::use_awaitable), signature>(
      [this, &commands, deadline](auto handler) {
        using handler_t = decltype(handler);
        auto h = std::make_shared<handler_t>(std::move(handler));
        submit(std::move(commands), deadline, [h](result<std::vector<redis_reply>> r) {
          // Resumes the coroutine on its own executor, never on the redis thread.
          auto ex = net::get_associated_executor(*h);
          net::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      net::use_awaitable);
}

net::awaitable<result<redis_reply>> redis_client::command(std::vector<std::string> argv,
                                                          duration deadline) {
  std::vector<std::vector<std::string>> cmds;
  cmds.push_back(std::move(argv));
  auto r = co_await pipeline(std::move(cmds), deadline);
  if (!r) {
    co_return r.error();
  }
  co_return std::move(r->front());
}

namespace {

std::vector<std::string> eval_args(const char* verb, const std::string& script_or_sha,
                                   std::vector<std::string>& keys, std::vector<std::string>& args) {
  std::vector<std::string> argv{verb, script_or_sha, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool is_noscript(const redis_reply& r) {
  return r.kind == redis_reply::type::error && r.str.starts_with("NOSCRIPT");
}

}  // namespace

net::awaitable<result<redis_reply>> redis_client::eval(const redis_script& s,
                                                       std::vector<std::string> keys,
                                                       std::vector<std::string> args,
                                                       duration deadline) {
  const auto start = steady_clock::now();
  auto r = co_await command(eval_args("EVALSHA", s.sha1, keys, args), deadline);
  if (!r || !is_noscript(*r)) {
    co_return r;
  }
  const auto left = deadline - std::chrono::duration_cast<duration>(steady_clock::now() - start);
  if (left <= duration::zero()) {
    co_return unavailable("no reply before the deadline");
  }
  co_return co_await command(eval_args("EVAL", s.source, keys, args), left);
}

result<redis_reply> redis_client::eval_sync(const redis_script& s, std::vector<std::string> keys,
                                            std::vector<std::string> args, duration deadline) {
  const auto start = steady_clock::now();
  auto r = command_sync(eval_args("EVALSHA", s.sha1, keys, args), deadline);
  if (!r || !is_noscript(*r)) {
    return r;
  }
  const auto left = deadline - std::chrono::duration_cast<duration>(steady_clock::now() - start);
  if (left <= duration::zero()) {
    return unavailable("no reply before the deadline");
  }
  return command_sync(eval_args("EVAL", s.source, keys, args), left);
}

void redis_client::subscribe(std::string channel,
                             std::function<void(std::string_view, std::string_view)> on_message,
                             std::function<void()> on_resubscribed) {
  impl& i = *impl_;
  std::lock_guard lock(i.submit_mutex);
  if (i.stopped) {
    return;
  }
  net::post(i.io, [&i, channel = std::move(channel), on_message = std::move(on_message),
                   on_resubscribed = std::move(on_resubscribed)]() mutable {
    i.channels[channel] = {std::move(on_message), std::move(on_resubscribed)};
    if (!i.sub_started) {
      i.sub_started = true;
      i.spawn(i.sub, true);  // subscribes to every channel once connected
    } else if (i.sub.is_up) {
      i.sub.out += format_redis_command({"SUBSCRIBE", channel});
      i.sub.wake.cancel();
    }
  });
}

}  // namespace switchyard
