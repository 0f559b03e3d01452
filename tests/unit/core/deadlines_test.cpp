#include "switchyard/core/deadlines.hpp"

#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

// A connected pair of loopback sockets on `io` (the peer never writes, so a read waits).
struct socket_pair {
  explicit socket_pair(net::io_context& io) : a(io), b(io) {
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
  tcp::socket a;
  tcp::socket b;
};

// Starts a read on `s` that records its error when it completes.
void start_read(tcp::socket& s, std::array<char, 16>& buf,
                std::optional<beast::error_code>& result) {
  s.async_read_some(net::buffer(buf),
                    [&result](beast::error_code ec, std::size_t) { result = ec; });
}

}  // namespace

TEST(deadlines, a_passed_deadline_closes_the_socket_and_reads_as_a_timeout) {
  net::io_context io;
  socket_pair p(io);
  std::array<char, 16> buf{};
  std::optional<beast::error_code> result;
  deadline d(p.a, steady_clock::now() + 1h);
  start_read(p.a, buf, result);
  auto& sweeper = deadline_sweeper::of(io);
  sweeper.sweep(steady_clock::now());  // not yet
  io.poll();
  EXPECT_FALSE(result);
  EXPECT_FALSE(d.expired());
  EXPECT_TRUE(p.a.is_open());

  sweeper.sweep(steady_clock::now() + 2h);
  EXPECT_TRUE(d.expired());
  EXPECT_FALSE(p.a.is_open());
  EXPECT_FALSE(d.armed());
  EXPECT_EQ(sweeper.armed(), 0u);
  io.poll();
  ASSERT_TRUE(result);
  EXPECT_EQ(d.check(*result), beast::error::timeout) << result->message();
  EXPECT_FALSE(d.check({})) << "a success stays a success";
  d.expires_after(1h);
  EXPECT_FALSE(d.armed()) << "a fired deadline stays fired: its socket is closed";
}

TEST(deadlines, re_arming_moves_the_deadline_and_never_disarms) {
  net::io_context io;
  socket_pair p(io);
  auto& sweeper = deadline_sweeper::of(io);
  const auto now = steady_clock::now();
  deadline d(p.a);
  EXPECT_FALSE(d.armed());
  d.expires_at(now + 1s);
  d.expires_at(now + 1h);  // a second arm is an update, not a second entry
  EXPECT_EQ(sweeper.armed(), 1u);
  sweeper.sweep(now + 2s);
  EXPECT_FALSE(d.expired());
  d.expires_never();
  EXPECT_EQ(sweeper.armed(), 0u);
  sweeper.sweep(now + 2h);
  EXPECT_FALSE(d.expired());
  EXPECT_TRUE(p.a.is_open());
  EXPECT_EQ(d.check(net::error::operation_aborted), net::error::operation_aborted)
      << "a cancel that was not the deadline keeps its own error";
}

TEST(deadlines, only_the_passed_ones_fire_and_destroyed_ones_leave_the_list) {
  net::io_context io;
  socket_pair p1(io);
  socket_pair p2(io);
  socket_pair p3(io);
  auto& sweeper = deadline_sweeper::of(io);
  const auto now = steady_clock::now();
  deadline early(p1.a, now + 1s);
  deadline late(p2.a, now + 1h);
  {
    deadline gone(p3.a, now + 1s);
    EXPECT_EQ(sweeper.armed(), 3u);
  }
  EXPECT_EQ(sweeper.armed(), 2u);
  const auto fired_before = sweeper.fired();
  sweeper.sweep(now + 2s);
  EXPECT_TRUE(early.expired());
  EXPECT_FALSE(late.expired());
  EXPECT_TRUE(p3.a.is_open()) << "a destroyed deadline never fires";
  EXPECT_EQ(sweeper.fired() - fired_before, 1u);
  EXPECT_EQ(sweeper.armed(), 1u);
}

TEST(deadlines, the_tick_timer_ends_a_stalled_read) {
  net::io_context io;
  socket_pair p(io);
  auto& sweeper = deadline_sweeper::of(io);
  sweeper.set_resolution(5ms);
  std::array<char, 16> buf{};
  std::optional<beast::error_code> result;
  deadline d(p.a, 20ms);
  start_read(p.a, buf, result);
  EXPECT_TRUE(sweeper.ticking());
  // Bounded: the io_context runs out of work once the read has failed and nothing is armed.
  io.run_for(5s);
  ASSERT_TRUE(result) << "the read never ended";
  EXPECT_EQ(d.check(*result), beast::error::timeout);
  EXPECT_FALSE(sweeper.ticking()) << "nothing armed: the timer stops by itself";
  EXPECT_TRUE(io.stopped()) << "the sweeper does not keep the io_context busy";
}

TEST(deadlines, a_disarmed_deadline_lets_the_read_finish_normally) {
  net::io_context io;
  socket_pair p(io);
  deadline_sweeper::of(io).set_resolution(1ms);
  std::array<char, 16> buf{};
  std::optional<beast::error_code> result;
  deadline d(p.a, 1ms);
  d.expires_never();
  start_read(p.a, buf, result);
  net::write(p.b, net::buffer("hi", 2));
  io.run_for(5s);
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result) << result->message();
  EXPECT_FALSE(d.expired());
}

TEST(deadlines, resolution_is_clamped_and_huge_durations_do_not_wrap) {
  net::io_context io;
  socket_pair p(io);
  auto& sweeper = deadline_sweeper::of(io);
  sweeper.set_resolution(0ms);
  EXPECT_EQ(sweeper.resolution(), 1ms);
  sweeper.set_resolution(1h);
  EXPECT_EQ(sweeper.resolution(), 1000ms);
  deadline d(p.a, steady_clock::duration::max());
  sweeper.sweep(steady_clock::now() + 24h * 365);
  EXPECT_FALSE(d.expired());
  EXPECT_EQ(&deadline_sweeper::of(p.a.get_executor()), &sweeper) << "one sweeper per io_context";
}

TEST(deadlines, timeouts_resolution_is_a_config_key_of_at_most_one_second) {
  const std::string base = R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1" }
models:
  - { name: m, upstream: up }
)";
  auto defaults = parse_config(base);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->timeouts.resolution, 100ms);
  auto set = parse_config(base + "timeouts: { resolution: 250ms }\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->timeouts.resolution, 250ms);
  auto too_coarse = parse_config(base + "timeouts: { resolution: 2s }\n");
  ASSERT_FALSE(too_coarse);
  EXPECT_NE(too_coarse.error().message.find("timeouts.resolution"), std::string::npos);
  EXPECT_FALSE(parse_config(base + "timeouts: { resolution: 0s }\n")) << "zero would spin";
}
