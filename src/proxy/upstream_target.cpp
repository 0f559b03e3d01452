#include "switchyard/proxy/upstream_target.hpp"

namespace switchyard {

void append_upstream_target(const upstream_config& up, endpoint ep, std::string_view /*model*/,
                            std::string& out) {
  // openai only so far; azure and anthropic follow with their config.
  out += up.path_prefix;
  out += endpoint_path(ep);
}

}  // namespace switchyard
