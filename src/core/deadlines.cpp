#include "switchyard/core/deadlines.hpp"

#include <algorithm>
#include <stdexcept>

namespace switchyard {

deadline_sweeper::deadline_sweeper(net::io_context& io)
    : net::execution_context::service(io), timer_(io) {}

deadline_sweeper& deadline_sweeper::of(net::io_context& io) {
  return net::use_service<deadline_sweeper>(io);
}

deadline_sweeper& deadline_sweeper::of(net::io_context& io, std::chrono::milliseconds resolution) {
  auto& s = of(io);
  s.set_resolution(resolution);
  return s;
}

deadline_sweeper& deadline_sweeper::of(const net::any_io_executor& ex) {
  if (const auto* io_ex = ex.target<net::io_context::executor_type>()) {
    return of(io_ex->context());
  }
  throw std::logic_error("deadline_sweeper: the socket's executor is not an io_context's");
}

void deadline_sweeper::set_resolution(std::chrono::milliseconds r) noexcept {
  resolution_ = std::clamp(r, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
}

void deadline_sweeper::shutdown() {
  // Pending handlers are destroyed, not run, from here on; deadlines destroyed with them only
  // unlink themselves.
  shut_ = true;
}

void deadline_sweeper::link(deadline& d) {
  d.prev_ = nullptr;
  d.next_ = head_;
  if (head_) {
    head_->prev_ = &d;
  }
  head_ = &d;
  d.linked_ = true;
  ++armed_;
  if (!ticking_ && !shut_) {
    schedule();
  }
}

void deadline_sweeper::unlink(deadline& d) noexcept {
  if (d.prev_) {
    d.prev_->next_ = d.next_;
  } else {
    head_ = d.next_;
  }
  if (d.next_) {
    d.next_->prev_ = d.prev_;
  }
  d.prev_ = d.next_ = nullptr;
  d.linked_ = false;
  --armed_;
}

void deadline_sweeper::schedule() {
  // One pending wait at a time. When nothing is armed at a tick the timer is not re-armed (no
  // cancel, so a disarm costs no syscall); the io_context can then run out of work and return.
  ticking_ = true;
  timer_.expires_after(resolution_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    ticking_ = false;
    if (ec || shut_) {
      return;
    }
    sweep(steady_clock::now());
    if (armed_ > 0) {
      schedule();
    }
  });
}

void deadline_sweeper::sweep(steady_clock::time_point now) {
  for (deadline* d = head_; d != nullptr;) {
    deadline* next = d->next_;
    if (d->at_ <= now) {
      unlink(*d);
      d->expired_ = true;
      ++fired_;
      // As tcp_stream's timeout does: the pending operation completes (later, through the
      // io_context) with operation_aborted, and nothing more can be done on the socket.
      beast::error_code ignored;
      d->socket_.close(ignored);
    }
    d = next;
  }
}

deadline::deadline(tcp::socket& socket)
    : sweeper_(deadline_sweeper::of(socket.get_executor())), socket_(socket) {}

deadline::deadline(tcp::socket& socket, steady_clock::time_point at) : deadline(socket) {
  expires_at(at);
}

deadline::deadline(tcp::socket& socket, steady_clock::duration after) : deadline(socket) {
  expires_after(after);
}

deadline::deadline(deadline_sweeper& sweeper, tcp::socket& socket, steady_clock::time_point at)
    : deadline(sweeper, socket) {
  expires_at(at);
}

deadline::deadline(deadline_sweeper& sweeper, tcp::socket& socket, steady_clock::duration after)
    : deadline(sweeper, socket) {
  expires_after(after);
}

deadline::~deadline() {
  if (linked_) {
    sweeper_.unlink(*this);
  }
}

void deadline::expires_at(steady_clock::time_point at) {
  if (expired_) {
    return;  // the socket is closed; the next operation fails at once (and reads as a timeout)
  }
  at_ = at;
  if (!linked_) {
    sweeper_.link(*this);
  }
}

void deadline::expires_after(steady_clock::duration after) {
  const auto now = steady_clock::now();
  // Saturating: "never" written as a huge duration must not wrap into the past.
  const auto room = steady_clock::time_point::max() - now;
  expires_at(after >= room ? steady_clock::time_point::max() : now + after);
}

void deadline::expires_never() noexcept {
  at_ = steady_clock::time_point::max();
  if (linked_) {
    sweeper_.unlink(*this);
  }
}

}  // namespace switchyard
