#include "switchyard/experiments/prompt_registry.hpp"

#include "switchyard/experiments/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <boost/json.hpp>

#include <filesystem>

namespace switchyard {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

prompt_version_spec spec(std::string_view text) {
  auto s = parse_version_spec("p", obj(text));
  EXPECT_TRUE(s) << s.error().message;
  return s ? *s : prompt_version_spec{};
}

const char* yaml = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: m, upstream: up } ]
prompts:
  - name: cfg
    versions: [ { version: v1, template: "Hello {{who}}", defaults: { who: world } } ]
experiments:
  - name: e
    match: { model: m }
    variants:
      - { name: control, prompt: cfg@v1 }
      - { name: treatment, prompt: reg@v2 }
)";

TEST(prompt_registry, canonical_form_is_fixed_whatever_the_input_order) {
  // Members and defaults in another order, variables given or derived: one canonical text.
  const auto a =
      spec(R"({"version":"v1","template":"Hi {{b}} {{a}}","defaults":{"b":"2","a":"1"}})");
  const auto b = spec(
      R"({ "defaults" : {"a":"1", "b":"2"}, "mode":"prepend", "variables":["b","a"],
           "template":"Hi {{b}} {{a}}", "version":"v1" })");
  EXPECT_EQ(canonical_form(a), canonical_form(b));
  EXPECT_EQ(canonical_form(a),
            R"({"defaults":{"a":"1","b":"2"},"mode":"prepend","template":"Hi {{b}} {{a}}",)"
            R"("variables":["a","b"]})");
  EXPECT_EQ(version_hash(a), version_hash(b));
  EXPECT_TRUE(version_hash(a).starts_with("sha256:"));
  EXPECT_EQ(version_hash(a).size(), 7u + 64u);
  // Every part of the content changes the hash; the version name does not.
  auto c = a;
  c.mode = "replace";
  EXPECT_NE(version_hash(a), version_hash(c));
  c = a;
  c.defaults["a"] = "x";
  EXPECT_NE(version_hash(a), version_hash(c));
  c = a;
  c.version = "v9";
  EXPECT_EQ(version_hash(a), version_hash(c));
}

TEST(prompt_registry, bad_versions_name_the_member) {
  const auto err = [](std::string_view text) {
    auto s = parse_version_spec("p", obj(text));
    return s ? std::string() : s.error().param;
  };
  EXPECT_EQ(err(R"({"version":"v1"})"), "template");
  EXPECT_EQ(err(R"({"template":"x"})"), "version");
  EXPECT_EQ(err(R"({"version":"a b","template":"x"})"), "version");
  EXPECT_EQ(err(R"({"version":"v1","template":"{{x"})"), "template");
  EXPECT_EQ(err(R"({"version":"v1","template":"{{x}}","variables":["y"]})"), "variables");
  EXPECT_EQ(err(R"({"version":"v1","template":"x","defaults":{"y":"1"}})"), "defaults");
  EXPECT_EQ(err(R"({"version":"v1","template":"x","mode":"append"})"), "mode");
  EXPECT_EQ(err(R"({"version":"v1","template":"x","colour":"red"})"), "colour");
  EXPECT_FALSE(parse_version_spec("bad name", obj(R"({"version":"v1","template":"x"})")));
}

// The hot config after parse: `reg@v2` left for the registry.
std::shared_ptr<const hot_config> parsed() {
  auto c = parse_config(yaml);
  EXPECT_TRUE(c) << c.error().message;
  return std::make_shared<const hot_config>(static_cast<const hot_config&>(*c));
}

TEST(prompt_registry, config_leaves_unknown_prompt_names_to_the_registry) {
  auto cfg = parsed();
  ASSERT_EQ(cfg->registry_prompt_refs.size(), 1u);
  EXPECT_EQ(cfg->registry_prompt_refs[0].ref, "reg@v2");
  EXPECT_EQ(cfg->registry_prompt_refs[0].path, "experiments[0].variants[1].prompt");
  // Without the version in the registry, applying it fails naming the key path and line.
  auto m = merge_registry(*cfg, {});
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("experiments[0].variants[1].prompt: no prompt version reg@v2"),
            std::string::npos)
      << m.error().message;
  EXPECT_NE(m.error().message.find("(line "), std::string::npos);
  // With it, the variant resolves like a config-defined one.
  const auto rec = record_of(spec(R"({"version":"v2","template":"Registry"})"), 100);
  stored_prompt_version r = rec;
  r.name = "reg";
  auto merged = merge_registry(*cfg, {r});
  ASSERT_TRUE(merged) << merged.error().message;
  ASSERT_NE((*merged)->find_prompt("reg@v2"), nullptr);
  EXPECT_EQ((*merged)->find_prompt("reg@v2")->text, "Registry");
  EXPECT_EQ((*merged)->find_prompt("reg@v2")->created_unix, 100);
  EXPECT_TRUE((*merged)->prompts.back().in_registry);
  // A store entry whose body no longer hashes to its hash is refused, not served.
  r.body = R"({"defaults":{},"mode":"prepend","template":"Tampered","variables":[]})";
  EXPECT_FALSE(merge_registry(*cfg, {r}));
}

TEST(prompt_registry, import_is_idempotent_and_refuses_conflicts_whole) {
  auto cfg = parsed();
  stored_prompt_version r = record_of(spec(R"({"version":"v2","template":"Registry"})"), 100);
  r.name = "reg";
  auto merged = merge_registry(*cfg, {r});
  ASSERT_TRUE(merged);
  const json::value doc = export_document(**merged, 200);
  // Everything already there: nothing to write.
  auto same = plan_import(doc, **merged, 300);
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_TRUE(same->to_write.empty());
  EXPECT_EQ(same->unchanged, 2u);
  // Into a gateway with only the config: the registry version is written, with its hash and
  // creation time kept.
  auto fresh = plan_import(doc, *cfg, 300);
  ASSERT_TRUE(fresh) << fresh.error().message;
  ASSERT_EQ(fresh->to_write.size(), 1u);
  EXPECT_EQ(fresh->to_write[0].hash, r.hash);
  EXPECT_EQ(fresh->to_write[0].created_unix, 100);
  EXPECT_EQ(fresh->unchanged, 1u);
  // Same name@version with other content: a conflict naming it.
  json::value bad = doc;
  auto& versions = bad.at("prompts").as_array()[1].at("versions").as_array();
  versions[0].as_object()["template"] = "Changed";
  versions[0].as_object().erase("hash");
  auto conflict = plan_import(bad, **merged, 300);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, errc::conflict);
  EXPECT_NE(conflict.error().message.find("reg@v2"), std::string::npos);
  // A hash that does not match the content: the document was altered.
  versions[0].as_object()["hash"] = r.hash;
  EXPECT_EQ(plan_import(bad, *cfg, 300).error().code, errc::invalid_request);
  // Twice in one document with two contents.
  auto dup = json::parse(R"({"prompts":[{"name":"d","versions":[
      {"version":"v1","template":"a"},{"version":"v1","template":"b"}]}]})");
  auto d = plan_import(dup, *cfg, 300);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("d@v1"), std::string::npos);
  // Twice with one content: fine, written once.
  auto twice = json::parse(R"({"prompts":[{"name":"d","versions":[
      {"version":"v1","template":"a"}]},{"name":"d","versions":[{"version":"v1","template":"a"}]}]})");
  auto t = plan_import(twice, *cfg, 300);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->to_write.size(), 1u);
  // A new version of a config-defined prompt: the file owns it.
  auto owned = json::parse(R"({"prompts":[{"name":"cfg","versions":[
      {"version":"v9","template":"a"}]}]})");
  EXPECT_EQ(plan_import(owned, *cfg, 300).error().code, errc::conflict);
  EXPECT_EQ(plan_import(json::parse("[1]"), *cfg, 300).error().code, errc::invalid_request);
}

TEST(prompt_registry, users_of_a_prompt) {
  auto cfg = parsed();
  EXPECT_EQ(prompt_users(*cfg, "reg", ""), std::vector<std::string>{"e/treatment"});
  EXPECT_EQ(prompt_users(*cfg, "reg", "v2"), std::vector<std::string>{"e/treatment"});
  EXPECT_TRUE(prompt_users(*cfg, "reg", "v1").empty());
  EXPECT_TRUE(prompt_users(*cfg, "re", "").empty());
}

TEST(prompt_registry, sqlite_store_writes_all_or_nothing) {
  char tmpl[] = "/tmp/switchyard-registry-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto s =
        open_sqlite_store(dir, [](std::string_view a, std::string_view) { return std::string(a); });
    ASSERT_TRUE(s) << s.error().message;
    auto& store = **s;
    auto a = record_of(spec(R"({"version":"v1","template":"A"})"), 10);
    auto b = record_of(spec(R"({"version":"v2","template":"B"})"), 20);
    ASSERT_TRUE(store.put_prompt_versions(std::vector{a, b}));
    ASSERT_TRUE(store.put_prompt_versions(std::vector{a}));  // same hash again: no-op
    auto changed = a;
    changed.hash = "sha256:other";
    auto c = record_of(spec(R"({"version":"v3","template":"C"})"), 30);
    auto r = store.put_prompt_versions(std::vector{c, changed});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::conflict);
    EXPECT_NE(r.error().message.find("p@v1"), std::string::npos);
    auto all = store.load_prompt_versions();
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, (std::vector{a, b}));  // c was not written either
    EXPECT_EQ(*store.delete_prompt_versions("p", "v1"), 1u);
    EXPECT_EQ(*store.delete_prompt_versions("p", ""), 1u);
    EXPECT_TRUE(store.load_prompt_versions()->empty());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace switchyard
