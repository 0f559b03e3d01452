#include "switchyard/http/router.hpp"

#include "switchyard/http/api.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace switchyard {
namespace {

using http::verb;

// Handlers are only compared, never called: the table is what is under test.
result<string_response> one(const local_call&) {
  return make_error(errc::internal, "one");
}
result<string_response> two(const local_call&) {
  return make_error(errc::internal, "two");
}
result<string_response> three(const local_call&) {
  return make_error(errc::internal, "three");
}

const router& table() {
  static const router r({
      {.methods = {verb::post},
       .pattern = "/v1/chat/completions",
       .site = route_site::proxy,
       .proxied = endpoint::chat_completions},
      {.methods = {verb::get}, .pattern = "/healthz", .handler = one, .site = route_site::worker},
      {.methods = {verb::get}, .pattern = "/items/{name}", .handler = one},
      {.methods = {verb::post},
       .pattern = "/items/{name}",
       .handler = two,
       .access = route_access::admin},
      {.methods = {verb::get}, .pattern = "/items/{name}/versions/{version}", .handler = three},
  });
  return r;
}

TEST(router, finds_literal_routes_and_says_where_they_run) {
  auto m = table().match(verb::get, "/healthz");
  ASSERT_EQ(m.outcome, route_match::kind::found);
  EXPECT_EQ(m.entry->handler, &one);
  EXPECT_EQ(m.entry->site, route_site::worker);
  EXPECT_FALSE(m.proxied());

  auto p = table().match(verb::post, "/v1/chat/completions?api-version=1");
  ASSERT_TRUE(p.proxied());
  EXPECT_EQ(p.entry->proxied, endpoint::chat_completions);
}

TEST(router, parameters_are_decoded_segments) {
  auto m = table().match(verb::get, "/items/a%20b/versions/v%31");
  ASSERT_EQ(m.outcome, route_match::kind::found);
  EXPECT_EQ(m.entry->handler, &three);
  EXPECT_EQ(m.param("name"), "a b");
  EXPECT_EQ(m.param("version"), "v1");
  EXPECT_EQ(m.param("other"), "");
  // An encoded slash stays inside its segment: one parameter, not two segments.
  auto slash = table().match(verb::get, "/items/x%2Fy");
  ASSERT_EQ(slash.outcome, route_match::kind::found);
  EXPECT_EQ(slash.param("name"), "x/y");
  // Literal segments compare decoded too.
  EXPECT_EQ(table().match(verb::get, "/%68ealthz").outcome, route_match::kind::found);
}

TEST(router, the_method_picks_the_entry_and_its_access_rule) {
  auto get = table().match(verb::get, "/items/x");
  auto post = table().match(verb::post, "/items/x");
  ASSERT_EQ(get.outcome, route_match::kind::found);
  ASSERT_EQ(post.outcome, route_match::kind::found);
  EXPECT_EQ(get.entry->access, route_access::anyone);
  EXPECT_EQ(post.entry->handler, &two);
  EXPECT_EQ(post.entry->access, route_access::admin);
}

TEST(router, head_is_answered_wherever_get_is) {
  auto m = table().match(verb::head, "/healthz");
  ASSERT_EQ(m.outcome, route_match::kind::found);
  EXPECT_EQ(m.entry->handler, &one);
  EXPECT_EQ(table().match(verb::head, "/v1/chat/completions").outcome,
            route_match::kind::method_not_allowed);
}

TEST(router, unknown_paths_are_404_unknown_url) {
  for (const char* target : {"/nothing", "/items", "/items/", "/healthz/", "/items/x/y",
                             "/v1/chat/completions/extra", "/a/b/c/d/e/f/g/h/i/j"}) {
    auto m = table().match(verb::get, target);
    EXPECT_EQ(m.outcome, route_match::kind::not_found) << target;
    auto e = m.refusal("GET", target);
    EXPECT_EQ(e.code, errc::not_found) << target;
    EXPECT_EQ(describe(e.code).code, "unknown_url");
  }
  auto e = table().match(verb::get, "/nothing?x=1").refusal("GET", "/nothing?x=1");
  EXPECT_EQ(e.message, "Unknown request URL: GET /nothing.");  // the path, without the query
}

TEST(router, a_known_path_with_another_method_is_405_with_allow) {
  auto m = table().match(verb::delete_, "/items/x");
  ASSERT_EQ(m.outcome, route_match::kind::method_not_allowed);
  EXPECT_EQ(m.allow.allow_header(), "GET, HEAD, POST");
  EXPECT_EQ(m.refusal("DELETE", "/items/x").code, errc::method_not_allowed);
  EXPECT_EQ(m.refusal("DELETE", "/items/x").message, "Method DELETE is not allowed on /items/x.");

  auto proxied = table().match(verb::get, "/v1/chat/completions");
  ASSERT_EQ(proxied.outcome, route_match::kind::method_not_allowed);
  EXPECT_EQ(proxied.allow.allow_header(), "POST");
}

TEST(router, queries_are_read_with_boost_url_params) {
  auto m = table().match(verb::get, "/items/x?phase=2&a=v%31&a=second&empty=&flag");
  ASSERT_EQ(m.outcome, route_match::kind::found);
  EXPECT_EQ(m.query("phase"), "2");
  EXPECT_EQ(m.query("a"), "v1");  // decoded; the first of repeated keys
  EXPECT_EQ(m.query("empty"), "");
  EXPECT_EQ(m.query("flag"), "");
  EXPECT_EQ(m.query("missing"), std::nullopt);
}

TEST(router, targets_that_are_not_origin_form_are_400) {
  for (const char* target : {"*", "http://example.com/healthz", "healthz", "/a b", "/x%zz"}) {
    auto m = table().match(verb::get, target);
    EXPECT_EQ(m.outcome, route_match::kind::bad_target) << target;
    EXPECT_EQ(describe(m.refusal("GET", target).code).status, http::status::bad_request);
  }
}

TEST(router, malformed_patterns_are_refused_at_construction) {
  for (const char* pattern : {"", "nope", "/a//b", "/{}", "/{a", "/A", "/a%20b", "/a//", "/"}) {
    EXPECT_THROW(router({{.methods = {verb::get}, .pattern = pattern, .handler = one}}),
                 std::invalid_argument)
        << pattern;
  }
  EXPECT_THROW(router({{.methods = {}, .pattern = "/a", .handler = one}}),
               std::invalid_argument);  // no method
}

TEST(router, a_trailing_slash_is_a_route_of_its_own) {
  const router r({{.methods = {verb::get}, .pattern = "/ui", .handler = one},
                  {.methods = {verb::get}, .pattern = "/ui/", .handler = two},
                  {.methods = {verb::get}, .pattern = "/ui/{file}", .handler = three}});
  EXPECT_EQ(r.match(verb::get, "/ui").entry->handler, &one);
  EXPECT_EQ(r.match(verb::get, "/ui/").entry->handler, &two);
  EXPECT_EQ(r.match(verb::get, "/ui/?x=1").entry->handler, &two);
  auto f = r.match(verb::get, "/ui/app.js");
  ASSERT_EQ(f.outcome, route_match::kind::found);
  EXPECT_EQ(f.entry->handler, &three);
  EXPECT_EQ(f.param("file"), "app.js");
  EXPECT_EQ(r.match(verb::get, "/ui//").outcome, route_match::kind::not_found);
  EXPECT_EQ(r.match(verb::get, "/ui/a/b").outcome, route_match::kind::not_found);
  EXPECT_EQ(r.match(verb::post, "/ui/").outcome, route_match::kind::method_not_allowed);
}

TEST(router, allow_lists_methods_in_a_stable_order) {
  EXPECT_EQ(method_set({verb::post, verb::get}).allow_header(), "GET, HEAD, POST");
  EXPECT_EQ(method_set({verb::delete_, verb::put}).allow_header(), "PUT, DELETE");
  EXPECT_TRUE(method_set().empty());
}

// The gateway's own table.
TEST(router, gateway_routes_every_route_is_reachable_and_head_follows_get) {
  const auto& full = gateway_routes(false);
  for (const auto& r : full.routes()) {
    std::string target(r.pattern);
    for (auto at = target.find('{'); at != std::string::npos; at = target.find('{')) {
      target.replace(at, target.find('}', at) - at + 1, "x");
    }
    // Routes with neither GET nor POST are DELETE-only (/v1/files/{id}, prompt versions).
    const verb method = r.methods.has(verb::get)    ? verb::get
                        : r.methods.has(verb::post) ? verb::post
                                                    : verb::delete_;
    auto m = full.match(method, target);
    ASSERT_EQ(m.outcome, route_match::kind::found) << target;
    EXPECT_EQ(m.entry, &r) << target;
    EXPECT_EQ(r.site == route_site::proxy, r.handler == nullptr) << target;
    if (r.methods.has(verb::get)) {
      EXPECT_EQ(full.match(verb::head, target).entry, &r) << target;
    }
  }
  EXPECT_EQ(full.match(verb::get, "/healthz").entry->site, route_site::worker);
  EXPECT_EQ(full.match(verb::get, "/metrics").entry->site, route_site::admin_executor);
  EXPECT_EQ(full.match(verb::post, "/api/v1/reload").entry->access, route_access::admin);
  EXPECT_EQ(full.match(verb::post, "/api/v1/experiments/x").entry->access, route_access::admin);
  EXPECT_EQ(full.match(verb::get, "/api/v1/experiments/x").entry->access, route_access::reader);
  EXPECT_EQ(full.match(verb::get, "/v1/models/gpt-4o").entry->access, route_access::anyone);
  // The registry's literal paths come before /api/v1/prompts/{name}.
  EXPECT_EQ(full.match(verb::get, "/api/v1/prompts/export").entry->access, route_access::reader);
  EXPECT_EQ(full.match(verb::post, "/api/v1/prompts/import").entry->access, route_access::admin);
  EXPECT_EQ(full.match(verb::delete_, "/api/v1/prompts/x").entry->access, route_access::admin);
  EXPECT_EQ(full.match(verb::get, "/api/v1/prompts/x").entry->access, route_access::reader);
}

TEST(router, gateway_routes_the_admin_listener_does_not_know_the_proxied_endpoints) {
  EXPECT_TRUE(gateway_routes(false).match(verb::post, "/v1/embeddings").proxied());
  auto m = gateway_routes(true).match(verb::post, "/v1/embeddings");
  EXPECT_EQ(m.outcome, route_match::kind::not_found);
  EXPECT_EQ(gateway_routes(true).match(verb::get, "/readyz").outcome, route_match::kind::found);
}

}  // namespace
}  // namespace switchyard
