#pragma once

// Coarse socket deadlines: one timer per worker instead of one per socket operation.
//
// Beast's tcp_stream arms a timer for every read and write; each new earliest deadline costs a
// timerfd_settime and often an extra epoll wake-up (about 6 + 4 per proxied request). Here an
// operation's deadline is a time point in a list (set with no syscall), and one steady_timer per
// io_context ticks every `resolution` while any deadline is armed, closing the sockets whose
// deadline has passed — what tcp_stream does on a timeout — so that the pending operation ends
// and `deadline::check` turns its error into `beast::error::timeout`, as callers saw before.
//
// Precision: a deadline fires between its time and its time + resolution (default 100 ms), never
// early. The streams that use it keep Beast's own timers off (`expires_never`, the default).

#include "switchyard/core/net.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace switchyard {

class deadline;

/// The per-io_context sweeper (an Asio service, so that any code holding a socket finds its
/// worker's sweeper through the socket's executor). Single-threaded, like its io_context.
class deadline_sweeper final : public net::execution_context::service {
 public:
  using key_type = deadline_sweeper;
  inline static net::execution_context::id id;

  static constexpr std::chrono::milliseconds default_resolution{100};

  /// Asio calls this (through `of`); use `of` instead.
  explicit deadline_sweeper(net::io_context& io);

  /// The sweeper of `io`, created on first use.
  static deadline_sweeper& of(net::io_context& io);
  /// The sweeper of `io`, with its resolution set (the worker does this once, from the config).
  static deadline_sweeper& of(net::io_context& io, std::chrono::milliseconds resolution);
  /// The sweeper of the io_context behind `ex` (which must be an io_context executor: a
  /// std::logic_error otherwise).
  static deadline_sweeper& of(const net::any_io_executor& ex);

  /// How often armed deadlines are checked; takes effect from the next tick. Clamped to
  /// [1 ms, 1 s].
  void set_resolution(std::chrono::milliseconds r) noexcept;
  std::chrono::milliseconds resolution() const noexcept { return resolution_; }

  /// Deadlines armed right now.
  std::size_t armed() const noexcept { return armed_; }
  /// Deadlines that fired (closed their socket) since the sweeper was created.
  std::uint64_t fired() const noexcept { return fired_; }
  /// True while the tick timer is pending (it stops by itself when nothing is armed).
  bool ticking() const noexcept { return ticking_; }

  /// Fires every armed deadline at or before `now`; what each tick does (public for tests).
  void sweep(steady_clock::time_point now);

 private:
  friend class deadline;
  void shutdown() override;
  void link(deadline& d);
  void unlink(deadline& d) noexcept;
  void schedule();

  net::steady_timer timer_;
  deadline* head_ = nullptr;  // the armed deadlines, unordered (a tick visits each once)
  std::size_t armed_ = 0;
  std::uint64_t fired_ = 0;
  std::chrono::milliseconds resolution_ = default_resolution;
  bool ticking_ = false;
  bool shut_ = false;  // the io_context is going away: no more ticks
};

/// The deadline of the operations on one socket. Arming and re-arming is a store and at most two
/// pointer updates; when it passes, the sweeper closes the socket (as tcp_stream does on a
/// timeout), so the pending operation completes with an error that `check` reports as
/// `beast::error::timeout`. Once fired it stays fired: the socket is closed for good.
///
/// Lives no longer than its socket and its io_context; neither copyable nor movable (the sweeper
/// links it by address).
class deadline {
 public:
  /// Unarmed, on `sweeper` (which must be the one of the socket's io_context).
  deadline(deadline_sweeper& sweeper, tcp::socket& socket) : sweeper_(sweeper), socket_(socket) {}
  /// Unarmed, on the sweeper of the socket's io_context (found through its executor).
  explicit deadline(tcp::socket& socket);
  /// Armed for `at` / for now + `after`.
  deadline(tcp::socket& socket, steady_clock::time_point at);
  deadline(tcp::socket& socket, steady_clock::duration after);
  deadline(deadline_sweeper& sweeper, tcp::socket& socket, steady_clock::time_point at);
  deadline(deadline_sweeper& sweeper, tcp::socket& socket, steady_clock::duration after);
  ~deadline();
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

  void expires_at(steady_clock::time_point at);
  void expires_after(steady_clock::duration after);
  /// Disarms it (a stream waiting on the client, an idle pooled connection).
  void expires_never() noexcept;

  bool armed() const noexcept { return linked_; }
  /// True once this deadline has closed the socket.
  bool expired() const noexcept { return expired_; }
  /// `ec` as the caller should see it: `beast::error::timeout` for any error once the deadline
  /// has fired (the aborted operation, or a later one on the closed socket).
  beast::error_code check(const beast::error_code& ec) const noexcept {
    return expired_ && ec ? beast::error_code(beast::error::timeout) : ec;
  }

 private:
  friend class deadline_sweeper;
  deadline_sweeper& sweeper_;
  tcp::socket& socket_;
  steady_clock::time_point at_ = steady_clock::time_point::max();
  deadline* prev_ = nullptr;
  deadline* next_ = nullptr;
  bool linked_ = false;
  bool expired_ = false;
};

}  // namespace switchyard
