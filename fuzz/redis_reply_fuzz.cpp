// Random bytes through hiredis's RESP reader and the conversion to redis_reply (what the Redis
// client does with every byte a server, or anything pretending to be one, sends): no crash, no
// leak, no unbounded recursion (hiredis caps nesting); and a reply re-encoded as a command
// parses back to the same strings.
#include "switchyard/store/redis_client.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void collect(const switchyard::redis_reply& r, std::vector<std::string>& out) {
  if (r.kind == switchyard::redis_reply::type::array) {
    for (const auto& e : r.elements) {
      collect(e, out);
    }
  } else {
    out.push_back(r.str);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto replies = switchyard::parse_redis_replies(bytes);
  if (!replies) {
    return 0;
  }
  for (const auto& r : *replies) {
    std::vector<std::string> argv;
    collect(r, argv);
    if (argv.empty()) {
      continue;
    }
    auto back = switchyard::parse_redis_replies(switchyard::format_redis_command(argv));
    if (!back || back->size() != 1 || (*back)[0].elements.size() != argv.size()) {
      std::abort();
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
      if ((*back)[0].elements[i].str != argv[i]) {
        std::abort();
      }
    }
  }
  return 0;
}
