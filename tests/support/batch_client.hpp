#pragma once

// The Batch API as a client sees it, for integration tests: a fake upstream that counts calls per
// custom_id, input lines and the multipart upload the openai npm SDK sends, and bounded waits
// for a batch's status. Used by batches_test (one gateway) and batches_shared_test (replicas on
// one Redis).

#include "fake_upstream.hpp"
#include "harness.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

/// Counts the upstream calls per custom_id (the runner puts each line's custom_id in the
/// message content) and answers a chat completion with usage, after `delay`; custom_ids that
/// start with "bad" get a 400 in OpenAI's error shape.
struct counting_upstream {
  counting_upstream();
  std::chrono::milliseconds delay{0};
  std::mutex m;
  std::map<std::string, int> calls;
  std::atomic<int> total{0};
  fake_upstream fake;
  int calls_of(const std::string& id);
};

/// A gateway config for batch tests: one worker, `upstream_port` as the upstream "up" with the
/// priced model gpt-4o-mini, fast batch polling; `extra` is appended at the top level.
std::string batch_gateway_yaml(std::uint16_t upstream_port, const std::string& data_dir,
                               const std::string& extra = "");

/// An in-process gateway that a test can stop and start again on the same data_dir (a restart).
struct gateway {
  explicit gateway(const std::string& yaml);
  ~gateway();
  /// Graceful: lines in flight finish first (up to `budget`).
  void stop(std::chrono::milliseconds budget);
  std::uint16_t port() const { return srv->port(); }
  std::shared_ptr<const config> cfg;
  std::unique_ptr<server> srv;
};

/// One input line whose message content is its custom_id.
std::string line(const std::string& custom_id, const std::string& model = "gpt-4o-mini",
                 const std::string& url = "/v1/chat/completions");

/// The multipart body undici's FormData writes (what the openai npm SDK sends).
std::string multipart(const std::string& boundary, const std::string& file,
                      const std::string& purpose = "batch");

boost::json::object parse_object(const response& r);

/// POST /v1/files; the file's id.
std::string upload(std::uint16_t port, const std::string& file);

/// POST /v1/batches for the chat endpoint; the batch's id.
std::string create_batch(std::uint16_t port, const std::string& file_id);

boost::json::object get_batch(std::uint16_t port, const std::string& id);

/// Waits until the batch reaches `status` (harness.hpp's eventually, bounded by `timeout`); the
/// last object seen, with a test failure when the status never came.
boost::json::object wait_for(std::uint16_t port, const std::string& id, std::string_view status,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// The lines of a stored file (an output or error file), parsed.
std::vector<boost::json::object> file_lines(std::uint16_t port, const boost::json::value& file_id);

}  // namespace switchyard::test
