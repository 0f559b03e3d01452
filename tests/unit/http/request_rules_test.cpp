#include "switchyard/http/request_rules.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

std::vector<parsed_request> parse(std::string_view bytes) {
  return parse_requests(bytes, 16 * 1024, 1024 * 1024);
}

TEST(request_rules, pipelined_requests_are_read_one_by_one) {
  auto r = parse(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].refusal);
  EXPECT_EQ(r[0].method, http::verb::post);
  EXPECT_EQ(r[0].body, "{}");
  EXPECT_EQ(r[1].target, "/healthz");
}

TEST(request_rules, host_rules_of_rfc9112) {
  auto missing = parse("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(missing.size(), 1u);
  ASSERT_TRUE(missing[0].refusal);
  EXPECT_EQ(missing[0].refusal->code, errc::bad_framing);
  auto two = parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_TRUE(two[0].refusal);
  auto old = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_FALSE(old[0].refusal);
}

TEST(request_rules, smuggling_vectors_are_refused) {
  for (std::string_view bytes : {
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
       }) {
    auto r = parse(bytes);
    ASSERT_FALSE(r.empty()) << bytes;
    EXPECT_TRUE(r.back().refusal) << bytes;
  }
}

TEST(request_rules, limits_map_to_431_and_413) {
  auto big_header = parse_requests(
      "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(4000, 'a') + "\r\n\r\n", 1024, 1024);
  ASSERT_EQ(big_header.size(), 1u);
  EXPECT_EQ(big_header[0].refusal->code, errc::headers_too_large);
  auto big_body =
      parse_requests("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 1024, 1024);
  ASSERT_EQ(big_body.size(), 1u);
  EXPECT_EQ(big_body[0].refusal->code, errc::body_too_large);
}

TEST(request_rules, an_incomplete_request_waits_for_more) {
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}").empty());
  EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHo").empty());
}

}  // namespace
}  // namespace switchyard
