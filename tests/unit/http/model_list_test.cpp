#include "switchyard/http/model_list.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

config load() {
  auto cfg = parse_config(R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models:
  - { name: small, upstream: up }
  - { name: big, upstream: up }
experiments:
  - name: tone
    match: { model: virtual }
    unit: body:user
    namespace: { name: n, range: [0.5, 1] }
    variants: [ { name: control, model: small }, { name: treatment, model: big } ]
  - name: tone_again
    match: { model: virtual }
    unit: body:user
    namespace: { name: n, range: [0, 0.5] }
    variants: [ { name: a0, model: small }, { name: a1, model: big } ]
  - name: on_small
    match: { model: small }
    unit: body:user
    variants: [ { name: b0 }, { name: b1 } ]
)");
  EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
  return std::move(*cfg);
}

TEST(model_list, models_then_experiment_only_names_each_once) {
  auto cfg = load();
  auto ids = served_models(cfg);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], "small");
  EXPECT_EQ(ids[1], "big");
  EXPECT_EQ(ids[2], "virtual");  // exists only through its experiments; listed once
}

TEST(model_list, every_listed_id_is_served_by_id_and_nothing_else_is) {
  auto cfg = load();
  auto list = boost::json::parse(model_list_json(cfg)).as_object();
  EXPECT_EQ(list.at("object").as_string(), "list");
  ASSERT_EQ(list.at("data").as_array().size(), 3u);
  for (const auto& m : list.at("data").as_array()) {
    const auto id = std::string(m.at("id").as_string());
    EXPECT_TRUE(serves_model(cfg, id)) << id;
    auto one = boost::json::parse(model_object_json(id));
    EXPECT_EQ(one, m) << id;  // the same object in the list and by id
  }
  EXPECT_FALSE(serves_model(cfg, "nope"));
  EXPECT_FALSE(serves_model(cfg, ""));
  EXPECT_FALSE(serves_model(cfg, "Small"));
}

TEST(model_list, ids_are_escaped_as_json) {
  auto one = boost::json::parse(model_object_json("a\"b\\c"));
  EXPECT_EQ(one.at("id").as_string(), "a\"b\\c");
  EXPECT_EQ(one.at("object").as_string(), "model");
  EXPECT_EQ(one.at("owned_by").as_string(), "switchyard");
}

}  // namespace
}  // namespace switchyard
