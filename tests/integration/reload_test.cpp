// The reload contract end to end: POST /api/v1/reload re-reads the file; the hot part (here the
// feedback signing key and the retry policy) applies to new requests, a changed boot key is
// refused with its path and the running config keeps serving. (SIGHUP calls the same
// server::reload from main.cpp; the in-process harness has no signal handling of its own.)
#include "harness.hpp"
#include "switchyard/experiments/feedback_id.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

namespace switchyard::test {
namespace {

namespace json = boost::json;

const std::vector<std::pair<std::string, std::string>> admin{
    {"authorization", "Bearer test-admin"}};

const std::string key_a = "key-a-0123456789abcdef0123456789";
const std::string key_b = "key-b-0123456789abcdef0123456789";

struct knobs {
  std::string signing_key = key_a;
  std::string max_body_bytes = "1048576";
  std::string max_attempts = "2";
};

std::string yaml(const std::string& dir, std::uint16_t mock, const knobs& k) {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + R"(
admin_token: test-admin
feedback: { signing_key: ")" +
         k.signing_key + R"(" }
limits: { max_body_bytes: )" +
         k.max_body_bytes + R"( }
retry: { max_attempts: )" +
         k.max_attempts + R"(, base: 1ms, cap: 2ms }
log: { level: off, access: off }
timeouts: { drain_grace: 0s }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:)" +
         std::to_string(mock) + R"(/v1" }
models:
  - { name: gpt-4o-mini, upstream: mock }
experiments:
  - name: tone
    match: { model: assistant }
    unit: request
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: gpt-4o-mini }
)";
}

// A gateway started from a file that the test rewrites between reloads.
class file_rig {
 public:
  explicit file_rig(const knobs& k) : path_(dir_.path + "/switchyard.yaml") {
    mock_.start();
    write(k);
    auto cfg = load_config_file(path_);
    if (!cfg) {
      throw std::runtime_error("test config: " + cfg.error().message);
    }
    gateway_ = std::make_unique<server>(std::make_shared<const config>(std::move(*cfg)), path_);
    gateway_->start();
  }
  ~file_rig() {
    gateway_->drain();
    gateway_->wait(steady_clock::now() + 5s);
    gateway_.reset();
    mock_.stop();
  }
  file_rig(const file_rig&) = delete;
  file_rig& operator=(const file_rig&) = delete;

  void write(const knobs& k) {
    std::ofstream(path_, std::ios::trunc) << yaml(dir_.path, mock_.port(), k);
  }
  std::uint16_t port() const { return gateway_->port(); }
  server& gateway() { return *gateway_; }

 private:
  temp_dir dir_;
  std::string path_;
  mock::server mock_{mock::options{}};
  std::unique_ptr<server> gateway_;
};

// A proxied request in the experiment; returns its signed feedback id.
std::string feedback_id(client& c) {
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"assistant","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(res.status, 200u) << res.body;
  auto id = res.header("x-switchyard-feedback-id");
  EXPECT_FALSE(id.empty());
  return id;
}

unsigned send_feedback(client& c, const std::string& id) {
  return c.post("/v1/feedback", R"({"request_id":")" + id + R"(","event":"success"})").status;
}

TEST(Reload, a_new_signing_key_signs_new_ids_and_the_previous_one_verifies_until_the_next) {
  file_rig r({});
  client c(r.port());
  const auto before_1 = feedback_id(c), before_2 = feedback_id(c);
  ASSERT_TRUE(verify_feedback_id(before_1, key_a));

  knobs rotated;
  rotated.signing_key = key_b;
  r.write(rotated);
  auto applied = c.post("/api/v1/reload", "{}", admin);
  ASSERT_EQ(applied.status, 200u) << applied.body;
  EXPECT_EQ(json::parse(applied.body).at("status").as_string(), "reloaded");

  const auto after = feedback_id(c);
  EXPECT_TRUE(verify_feedback_id(after, key_b)) << "new ids are signed with the new key";
  EXPECT_FALSE(verify_feedback_id(after, key_a)) << "…not with the one the gateway started with";
  EXPECT_EQ(send_feedback(c, after), 200u);
  EXPECT_EQ(send_feedback(c, before_1), 200u) << "the replaced key verifies until the next reload";

  ASSERT_EQ(c.post("/api/v1/reload", "{}", admin).status, 200u);  // same file: key_b only
  EXPECT_EQ(send_feedback(c, before_2), 400u) << "two reloads later the old key is retired";
  EXPECT_EQ(send_feedback(c, feedback_id(c)), 200u);
}

TEST(Reload, a_changed_boot_key_is_refused_by_path_and_the_old_config_keeps_serving) {
  file_rig r({});
  client c(r.port());
  const auto generation = r.gateway().snapshot().current()->generation;

  knobs boot;
  boot.max_body_bytes = "2048";
  boot.signing_key = key_b;  // a hot change in the same file is not applied either
  r.write(boot);
  auto refused = c.post("/api/v1/reload", "{}", admin);
  EXPECT_EQ(refused.status, 409u) << refused.body;
  EXPECT_NE(refused.body.find("limits.max_body_bytes"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("needs a restart"), std::string::npos) << refused.body;
  EXPECT_EQ(r.gateway().snapshot().current()->generation, generation);

  const auto id = feedback_id(c);
  EXPECT_TRUE(verify_feedback_id(id, key_a)) << "the running config keeps serving";
  EXPECT_EQ(send_feedback(c, id), 200u);
  // The running limit, not the refused one: a 4 KiB body still passes.
  auto big = c.post("/v1/chat/completions", R"({"model":"gpt-4o-mini","messages":[{"role":"user",)"
                                            R"("content":")" +
                                                std::string(4096, 'x') + R"("}]})");
  EXPECT_EQ(big.status, 200u) << big.body;

  knobs hot;
  hot.max_attempts = "4";  // retry (but its budget) is read per request: it reloads
  r.write(hot);
  auto applied = c.post("/api/v1/reload", "{}", admin);
  ASSERT_EQ(applied.status, 200u) << applied.body;
  const auto now = r.gateway().snapshot().current();
  EXPECT_GT(now->generation, generation);
  EXPECT_EQ(now->cfg->find_model("gpt-4o-mini")->retry.max_attempts, 4u);
}

}  // namespace
}  // namespace switchyard::test
