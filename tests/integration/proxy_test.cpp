// The gateway against the mock LLM: what a client sees on the happy paths.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <set>
#include <thread>

namespace switchyard::test {
namespace {

std::string streaming_body(bool include_usage = false) {
  return std::string(R"({"model":"gpt-4o-mini","stream":true,)") +
         (include_usage ? R"("stream_options":{"include_usage":true},)" : "") +
         R"("messages":[{"role":"user","content":"hello"}]})";
}

TEST(proxy, chat_non_stream_is_relayed_with_the_model_rewritten) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body,
                    {{"authorization", "Bearer sk-client"},
                     {"x-request-id", "test-req-1"},
                     {"connection", "keep-alive, x-hop"},
                     {"x-hop", "secret"},
                     {"x-custom", "kept"}});
  ASSERT_EQ(res.status, 200u) << res.body;
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_FALSE(v.at("choices").at(0).at("message").at("content").as_string().empty());
  EXPECT_GT(v.at("usage").at("completion_tokens").as_int64(), 0);
  EXPECT_EQ(res.header("x-request-id"), "test-req-1");
  EXPECT_FALSE(res.header("x-upstream-request-id").empty());
  EXPECT_TRUE(res.keep_alive);

  auto seen = r.upstream().last_request();
  EXPECT_EQ(seen.target, "/v1/chat/completions");
  EXPECT_EQ(seen.header("authorization"), "Bearer sk-upstream");  // never the client's key
  EXPECT_EQ(seen.header("x-request-id"), "test-req-1");
  EXPECT_EQ(seen.header("x-custom"), "kept");
  EXPECT_EQ(seen.header("x-hop"), "");  // named in Connection: hop-by-hop
  EXPECT_EQ(boost::json::parse(seen.body).at("model").as_string(), "mock-model");
}

TEST(proxy, body_is_forwarded_byte_for_byte_when_the_model_keeps_its_name) {
  rig r(default_yaml());
  client c(r.port());
  std::string body =
      "{\"model\" : \"same-name\", \"temperature\": 0.70000000000000001,\n"
      " \"messages\": [{\"role\":\"user\",\"content\":\"h\\u00e9\"}]}";
  auto res = c.post("/v1/chat/completions", body);
  ASSERT_EQ(res.status, 200u);
  EXPECT_EQ(r.upstream().last_request().body, body);
}

TEST(proxy, a_request_id_is_created_when_the_client_sends_none) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body);
  ASSERT_EQ(res.status, 200u);
  auto id = res.header("x-request-id");
  EXPECT_EQ(id.rfind("req_", 0), 0u);
  EXPECT_EQ(r.upstream().last_request().header("x-request-id"), id);
}

TEST(proxy, stream_events_reach_the_client_before_the_upstream_has_finished) {
  mock::options slow;
  slow.inter_token = 100ms;
  rig r(default_yaml(), slow);
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", streaming_body(), {{"x-mock-tokens", "10"}});
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("content-type").rfind("text/event-stream", 0), 0u);
  EXPECT_EQ(head.header("cache-control"), "no-cache");
  EXPECT_EQ(head.header("x-accel-buffering"), "no");
  EXPECT_EQ(head.header("transfer-encoding"), "chunked");

  auto first = c.next_event();  // the role chunk
  ASSERT_TRUE(first);
  auto second = c.next_event();  // the first token
  ASSERT_TRUE(second);
  EXPECT_NE(second->find("tok0"), std::string::npos);
  // Ten tokens 100 ms apart take ~1 s upstream; the first one must not wait for them: the
  // client holds it while the upstream is still generating the rest.
  EXPECT_EQ(r.upstream().counters().streams_completed.load(), 0u);

  std::vector<std::string> rest;
  while (auto e = c.next_event()) {
    rest.push_back(*e);
  }
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back(), "[DONE]");
  // The other nine tokens followed, in order, as events of their own.
  std::size_t next_token = 1;
  for (const auto& e : rest) {
    if (next_token < 10 && e.find("tok" + std::to_string(next_token) + " ") != std::string::npos) {
      ++next_token;
    }
  }
  EXPECT_EQ(next_token, 10u);
  EXPECT_TRUE(c.stream_finished());
  for (const auto& e : rest) {
    EXPECT_EQ(e.find("\"usage\":{"), std::string::npos) << "no usage chunk was asked for";
  }
}

TEST(proxy, stream_with_include_usage_ends_with_the_usage_chunk) {
  rig r(default_yaml());
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", streaming_body(true));
  ASSERT_EQ(head.status, 200u);
  std::vector<std::string> events;
  while (auto e = c.next_event()) {
    events.push_back(*e);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto usage = boost::json::parse(events[events.size() - 2]);
  EXPECT_GT(usage.at("usage").at("total_tokens").as_int64(), 0);
  // The connection stays usable after a stream.
  auto res = c.post("/v1/chat/completions", chat_body);
  EXPECT_EQ(res.status, 200u);
}

TEST(proxy, completions_and_embeddings) {
  rig r(default_yaml());
  client c(r.port());
  auto comp = c.post("/v1/completions", R"({"model":"gpt-4o-mini","prompt":"Say hi"})");
  ASSERT_EQ(comp.status, 200u) << comp.body;
  EXPECT_EQ(boost::json::parse(comp.body).at("object").as_string(), "text_completion");
  EXPECT_EQ(r.upstream().last_request().target, "/v1/completions");

  auto emb =
      c.post("/v1/embeddings",
             R"({"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"})");
  ASSERT_EQ(emb.status, 200u) << emb.body;
  auto v = boost::json::parse(emb.body);
  EXPECT_EQ(v.at("data").as_array().size(), 2u);
  EXPECT_TRUE(v.at("data").at(0).at("embedding").is_array());
}

TEST(proxy, models_health_and_readiness) {
  rig r(default_yaml());
  client c(r.port());
  auto models = c.request(http::verb::get, "/v1/models");
  ASSERT_EQ(models.status, 200u);
  auto v = boost::json::parse(models.body);
  EXPECT_EQ(v.at("object").as_string(), "list");
  std::vector<std::string> ids;
  for (const auto& m : v.at("data").as_array()) {
    ids.emplace_back(m.at("id").as_string());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-4o-mini", "same-name", "text-embedding-3-small"}));
  auto one = c.request(http::verb::get, "/v1/models/gpt-4o-mini");
  EXPECT_EQ(one.status, 200u);
  EXPECT_EQ(boost::json::parse(one.body).at("id").as_string(), "gpt-4o-mini");
  auto missing = c.request(http::verb::get, "/v1/models/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(c.request(http::verb::get, "/healthz").status, 200u);
  EXPECT_EQ(c.request(http::verb::get, "/readyz").status, 200u);
}

TEST(proxy, upstream_connections_are_kept_alive_and_reused) {
  rig r(default_yaml());
  client c(r.port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
    auto head = c.start_stream("/v1/chat/completions", streaming_body());
    ASSERT_EQ(head.status, 200u);
    while (c.next_event()) {
    }
  }
  EXPECT_EQ(r.upstream().counters().requests.load(), 10u);
  EXPECT_EQ(r.upstream().counters().connections_accepted.load(), 1u);
}

TEST(proxy, concurrent_clients_across_two_workers) {
  rig r(R"(
listen: 127.0.0.1:0
workers: 2
upstreams: [ { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", max_connections: 4 } ]
models: [ { name: gpt-4o-mini, upstream: mock } ]
log: { level: off, access: off }
)");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      client c(r.port());
      for (int i = 0; i < 20; ++i) {
        if (c.post("/v1/chat/completions", chat_body).status == 200u) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 160);
  // At most max_connections per worker were opened.
  EXPECT_LE(r.upstream().counters().connections_accepted.load(), 8u);
}

// Every relay on a worker parses into that worker's one scratch block (relay.cpp), so streams
// that interleave on one worker must still each get only their own bytes: each event of a
// stream carries the stream's own id, and its tokens come whole and in order.
TEST(proxy, concurrent_streams_on_one_worker_never_mix) {
  rig r(R"(
listen: 127.0.0.1:0
workers: 1
upstreams: [ { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", max_connections: 64 } ]
models: [ { name: gpt-4o-mini, upstream: mock } ]
log: { level: off, access: off }
)");
  struct seen {
    std::vector<std::string> ids;
    std::vector<std::string> tokens;
    bool parsed = true;
    unsigned status = 0;
  };
  const auto read_stream = [&](int tokens, int gap_ms) {
    seen out;
    client c(r.port());
    auto head = c.start_stream("/v1/chat/completions", streaming_body(),
                               {{"x-mock-tokens", std::to_string(tokens)},
                                {"x-mock-inter-token-ms", std::to_string(gap_ms)}});
    out.status = head.status;
    for (int n = 0; n < 4 * tokens + 8; ++n) {  // bounded: tokens + role, finish, [DONE]
      auto ev = c.next_event();
      if (!ev || *ev == "[DONE]") {
        break;
      }
      boost::system::error_code ec;
      auto v = boost::json::parse(*ev, ec);
      if (ec || !v.is_object()) {
        out.parsed = false;
        break;
      }
      out.ids.emplace_back(v.at("id").as_string());
      const auto& delta = v.at("choices").as_array().at(0).at("delta").as_object();
      if (const auto* text = delta.if_contains("content");
          text && text->is_string() && !text->as_string().empty()) {
        out.tokens.emplace_back(text->as_string());
      }
    }
    return out;
  };
  constexpr int longest = 40;
  const seen reference = read_stream(longest, 0);
  ASSERT_EQ(reference.status, 200u);
  ASSERT_EQ(reference.tokens.size(), static_cast<std::size_t>(longest));

  constexpr std::size_t streams = 24;
  std::vector<seen> got(streams);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < streams; ++t) {
    threads.emplace_back(
        [&, t] { got[t] = read_stream(static_cast<int>(16 + t), static_cast<int>(1 + t % 3)); });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::set<std::string> ids;
  for (std::size_t t = 0; t < streams; ++t) {
    SCOPED_TRACE("stream " + std::to_string(t));
    EXPECT_EQ(got[t].status, 200u);
    EXPECT_TRUE(got[t].parsed);
    ASSERT_FALSE(got[t].ids.empty());
    for (const auto& id : got[t].ids) {
      EXPECT_EQ(id, got[t].ids.front());  // no event of another stream
    }
    ids.insert(got[t].ids.front());
    const std::vector<std::string> want(
        reference.tokens.begin(), reference.tokens.begin() + static_cast<std::ptrdiff_t>(16 + t));
    EXPECT_EQ(got[t].tokens, want);  // whole, in order, none missing
  }
  EXPECT_EQ(ids.size(), streams);
}

}  // namespace
}  // namespace switchyard::test
