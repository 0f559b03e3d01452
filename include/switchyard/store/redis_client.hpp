#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/core/redis_url.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

using duration = std::chrono::milliseconds;  // as config.hpp spells it

/// One RESP reply (hiredis's redisReply, copied out). RESP2 as Debian's hiredis 0.14 speaks it.
struct redis_reply {
  enum class type { nil, integer, string, status, error, array };
  type kind = type::nil;
  std::int64_t integer = 0;
  std::string str;                    // string / status / error text
  std::vector<redis_reply> elements;  // array
  bool operator==(const redis_reply&) const = default;
};

/// A Lua script and its SHA-1 (computed once, with OpenSSL), for EVALSHA.
struct redis_script {
  std::string source;
  std::string sha1;
  explicit redis_script(std::string src);
};

/// Converts one parsed hiredis reply (a `redisReply*` given as void*, so that hiredis's headers
/// stay out of this one) into a redis_reply. Exposed for the tests and the fuzzer.
redis_reply convert_redis_reply(const void* hiredis_reply);

/// Parses every complete RESP reply in `bytes` (with hiredis's redisReader); an error for a
/// protocol error. Exposed for the tests and the fuzzer; the client parses the same way.
result<std::vector<redis_reply>> parse_redis_replies(std::string_view bytes);

/// RESP encoding of one command (hiredis's redisFormatCommandArgv): binary-safe arguments.
std::string format_redis_command(const std::vector<std::string>& argv);

/// A pipelined connection to one Redis on its own I/O thread ("sy-redis"): callers on any thread
/// (a worker's coroutine, the admin executor, the flush thread) send commands; replies come back
/// in order. Reconnects with jittered backoff; while disconnected every call fails fast with
/// errc::unavailable (never waits longer than its deadline: a call whose deadline passes fails
/// with errc::unavailable too, and its late reply is dropped). Counts errors for
/// switchyard_store_errors_total and logs "store unavailable" once per episode (and "store back").
/// AUTH (when a password is set) and SELECT (db != 0) run on every connect.
class redis_client {
 public:
  /// Starts the thread and the first connection attempt (it does not wait for it: a call made
  /// before it succeeds fails fast). `connect_timeout` bounds each attempt (TCP + AUTH/SELECT).
  static std::shared_ptr<redis_client> start(redis_endpoint ep, duration connect_timeout);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  void stop();  // joins the thread; pending calls fail
  bool connected() const noexcept;
  /// Waits (blocking, start-up only) until the first connection is up or `timeout` passed.
  bool wait_connected(duration timeout) const;

  /// Awaitable from any executor; resumes on the caller's executor. An error reply is a reply
  /// (kind error), not an error result.
  net::awaitable<result<redis_reply>> command(std::vector<std::string> argv, duration deadline);
  net::awaitable<result<std::vector<redis_reply>>> pipeline(
      std::vector<std::vector<std::string>> commands, duration deadline);
  /// Blocking versions for threads that may block (admin executor, flush thread) — never a worker.
  result<redis_reply> command_sync(std::vector<std::string> argv, duration deadline);
  result<std::vector<redis_reply>> pipeline_sync(std::vector<std::vector<std::string>> cmds,
                                                 duration deadline);
  /// EVALSHA, loading the script (EVAL) on NOSCRIPT.
  net::awaitable<result<redis_reply>> eval(const redis_script& s, std::vector<std::string> keys,
                                           std::vector<std::string> args, duration deadline);
  result<redis_reply> eval_sync(const redis_script& s, std::vector<std::string> keys,
                                std::vector<std::string> args, duration deadline);

  /// A second connection in SUBSCRIBE mode; `on_message(channel, payload)` runs on the redis
  /// thread (keep it short: post work elsewhere). Resubscribes after every reconnect and then
  /// calls `on_resubscribed()` (also after the first subscription) so the caller can reconcile
  /// what it missed.
  void subscribe(std::string channel,
                 std::function<void(std::string_view, std::string_view)> on_message,
                 std::function<void()> on_resubscribed);

  std::uint64_t errors() const noexcept;          // failed calls (unavailable, deadline, I/O)
  std::uint64_t connect_errors() const noexcept;  // failed connection attempts

  /// Completion of one submitted batch, called exactly once on the redis thread.
  using completion = std::function<void(result<std::vector<redis_reply>>)>;
  /// Submits `commands` (pipelined) from any thread; `done` runs on the redis thread.
  void submit(std::vector<std::vector<std::string>> commands, duration deadline, completion done);

  struct impl;

 private:
  explicit redis_client(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard
