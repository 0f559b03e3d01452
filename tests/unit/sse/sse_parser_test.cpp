#include "switchyard/sse/sse_parser.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using namespace std::string_view_literals;

std::vector<sse_event> parse_all(const std::vector<std::string_view>& chunks,
                                 std::size_t limit = 1 << 20) {
  sse_parser p(limit);
  std::vector<sse_event> out;
  for (auto c : chunks) {
    auto r = p.feed(c, out);
    EXPECT_TRUE(r.has_value());
  }
  return out;
}

bool same(const std::vector<sse_event>& a, const std::vector<sse_event>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].data != b[i].data || a[i].event != b[i].event || a[i].id != b[i].id) {
      return false;
    }
  }
  return true;
}

// A stream mixing every line ending, comments, multi-line data, event and id fields.
constexpr std::string_view stream =
    "data: {\"a\":1}\n\n"
    ": keep-alive\n\n"
    "data: line one\r\ndata: line two\r\n\r\n"
    "event: ping\rid: 7\rdata:x\r\r"
    "data:  two spaces\n"
    "retry: 10\n"
    "unknown: field\n\n"
    "data: [DONE]\n\n";

TEST(sse_parser, parses_every_field_and_line_ending) {
  auto events = parse_all({stream});
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].data, "line one\nline two");
  EXPECT_EQ(events[2].event, "ping");
  EXPECT_EQ(events[2].id, "7");
  EXPECT_EQ(events[2].data, "x");
  EXPECT_EQ(events[3].data, " two spaces");  // only one space after the colon is stripped
  EXPECT_EQ(events[4].data, "[DONE]");
}

TEST(sse_parser, same_events_at_every_single_split_point) {
  auto whole = parse_all({stream});
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    auto split = parse_all({stream.substr(0, i), stream.substr(i)});
    EXPECT_TRUE(same(whole, split)) << "split at " << i;
  }
}

TEST(sse_parser, same_events_at_every_pair_of_split_points) {
  auto whole = parse_all({stream});
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); ++j) {
      auto split = parse_all({stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)});
      ASSERT_TRUE(same(whole, split)) << "split at " << i << " and " << j;
    }
  }
}

TEST(sse_parser, byte_by_byte) {
  auto whole = parse_all({stream});
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    bytes.push_back(stream.substr(i, 1));
  }
  EXPECT_TRUE(same(whole, parse_all(bytes)));
}

TEST(sse_parser, reports_the_end_of_the_last_complete_block) {
  sse_parser p(1024);
  std::vector<sse_event> out;
  auto r = p.feed("data: a\n\ndata: b\n\ndata: partial", out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, std::string_view("data: a\n\ndata: b\n\n").size());
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(p.pending_bytes(), std::string_view("data: partial").size());

  out.clear();
  r = p.feed(" rest", out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, std::string_view::npos);
  EXPECT_TRUE(out.empty());

  r = p.feed("\n\n", out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 2u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "partial rest");
}

TEST(sse_parser, crlf_split_across_chunks_counts_once) {
  auto events = parse_all({"data: a\r", "\n\r", "\ndata: b\r\n\r\n"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
}

TEST(sse_parser, event_without_data_is_not_dispatched) {
  auto events = parse_all({"event: x\n\nid: 3\n\n: comment\n\n"});
  EXPECT_TRUE(events.empty());
  auto empty_data = parse_all({"data:\n\n"});
  ASSERT_EQ(empty_data.size(), 1u);
  EXPECT_EQ(empty_data[0].data, "");
}

TEST(sse_parser, an_event_over_the_limit_is_an_error) {
  sse_parser p(16);
  std::vector<sse_event> out;
  EXPECT_TRUE(p.feed("data: 0123456789", out).has_value());
  auto r = p.feed("abcdef", out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, errc::upstream_broken);
}

TEST(sse_parser, many_small_events_do_not_hit_the_per_event_limit) {
  sse_parser p(32);
  std::vector<sse_event> out;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.feed("data: 0123456789\n\n", out).has_value());
  }
  EXPECT_EQ(out.size(), 1000u);
}

TEST(sse_parser, cr_only_streams_give_one_event_per_block) {
  auto events = parse_all({"data: a\r\rdata: b\r\r: ping\r\rdata: [DONE]\r\r"});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(events[2].data, "[DONE]");
}

TEST(sse_parser, a_leading_bom_is_skipped_even_when_split) {
  auto events = parse_all({"\xEF", "\xBB", "\xBF", "data: x\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[0].data_offset, 9u);  // past the BOM and "data: "
  // Only at the start of the stream: later, the bytes are part of the field name.
  auto later =
      parse_all({"data: a\n\n\xEF\xBB\xBF"
                 "data: b\n\n"});
  EXPECT_EQ(later.size(), 1u);
}

TEST(sse_parser, reports_each_event_block_position_in_the_stream) {
  const std::string s = ": ping\n\nevent: e\ndata: one\n\ndata: two\r\ndata: lines\r\n\r\n";
  for (std::size_t cut = 1; cut < s.size(); ++cut) {
    auto events = parse_all({std::string_view(s).substr(0, cut), std::string_view(s).substr(cut)});
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(s.substr(events[0].begin, events[0].end - events[0].begin),
              "event: e\ndata: one\n\n");
    EXPECT_EQ(events[0].data_lines, 1u);
    EXPECT_EQ(s.substr(events[0].data_offset, 3), "one");
    // Dispatched at the CR when the LF has not arrived yet: that LF then lies between blocks.
    EXPECT_EQ(s.substr(events[1].begin, events[1].end - events[1].begin),
              cut == s.size() - 1 ? "data: two\r\ndata: lines\r\n\r"
                                  : "data: two\r\ndata: lines\r\n\r\n");
    EXPECT_EQ(events[1].data_lines, 2u);
    EXPECT_EQ(events[1].data, "two\nlines");
  }
}

TEST(sse_parser, id_persists_retry_needs_digits_and_nul_ids_are_ignored) {
  sse_parser p(1024);
  std::vector<sse_event> out;
  ASSERT_TRUE(
      p.feed("id: 1\nretry: 2500\ndata: a\n\ndata: b\n\nretry: x1\nid: a\0b\ndata: c\n\n"sv, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].id, "1");
  EXPECT_EQ(out[1].id, "1");
  EXPECT_EQ(out[2].id, "1");
  EXPECT_EQ(p.reconnection_time(), 2500u);
}

}  // namespace
}  // namespace switchyard
