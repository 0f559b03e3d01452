// The `batches:` section (docs/batches.md): the Batch API runner's concurrency, deadlines,
// retries and bounds. Boot keys: the runner is built once at start.
#include "schema.hpp"

namespace switchyard::config_detail {

namespace {

constexpr applies boot = applies::on_restart;

const section<batches_config>& batches_section() {
  static const section<batches_config> s{
      {
          field<batches_config>("concurrency", boot, SY_AT(concurrency), integer_t{1, 1024}),
          field<batches_config>("line_timeout", boot, SY_AT(line_timeout), duration_t{}),
          field<batches_config>("max_attempts", boot, SY_AT(max_attempts), integer_t{1, 20}),
          field<batches_config>("retry_base", boot, SY_AT(retry_base), duration_t{}),
          field<batches_config>("retry_cap", boot, SY_AT(retry_cap), duration_t{}),
          field<batches_config>("max_lines", boot, SY_AT(max_lines), integer_t{1, 10'000'000}),
          field<batches_config>("max_line_bytes", boot, SY_AT(max_line_bytes),
                                integer_t{1024, 1ull << 30}),
          field<batches_config>("max_response_bytes", boot, SY_AT(max_response_bytes),
                                integer_t{1024, 1ull << 32}),
          field<batches_config>("poll_interval", boot, SY_AT(poll_interval), duration_t{}),
          field<batches_config>("lease", boot, SY_AT(lease), duration_t{}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, batches_config& b) {
        if (b.retry_cap < b.retry_base) {
          r.fail(node["retry_cap"] ? node["retry_cap"] : node, path + ".retry_cap",
                 "must be ≥ retry_base");
        }
        if (b.lease < std::chrono::milliseconds(300)) {
          r.fail(node["lease"] ? node["lease"] : node, path + ".lease",
                 "must be at least 300ms (it is renewed every third of it)");
        }
      }};
  return s;
}

}  // namespace

key<config> batches_key() {
  return nested<config>("batches", SY_AT(batches), batches_section());
}

}  // namespace switchyard::config_detail
