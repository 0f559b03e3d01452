// A multipart/form-data body (POST /v1/files) and Batch API input lines from outside: the reader
// must never crash, hang or read out of bounds, and must produce the same parts whatever the
// split of the body; each part's content is also run through the batch line validator, whose
// verdict must not depend on anything but the line.
//
// Input: the first line is a Content-Type value (its boundary is used when valid, else "b"),
// the next byte picks the piece size, the rest is the body.
#include "switchyard/jobs/batch_line.hpp"
#include "switchyard/jobs/multipart.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace switchyard;

namespace {

struct collected {
  std::vector<std::string> names, data;
  bool ok = false;
};

collected run(const std::string& boundary, std::string_view body, std::size_t piece) {
  collected c;
  multipart_reader r(boundary, {.on_part = [&](const multipart_part_header& h) -> result<void> {
                                  c.names.push_back(h.name);
                                  c.data.emplace_back();
                                  return {};
                                },
                                .on_data = [&](std::string_view d) -> result<void> {
                                  if (c.data.empty()) {
                                    __builtin_trap();  // data before any part's headers
                                  }
                                  c.data.back().append(d);
                                  return {};
                                },
                                .on_part_end = [] { return result<void>(); }});
  result<void> f;
  for (std::size_t i = 0; f && i < body.size(); i += piece) {
    f = r.feed(body.substr(i, piece));
  }
  c.ok = f && r.finish();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view ct = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto b = multipart_boundary(ct);
  const std::string boundary = b ? *b : "b";
  const std::size_t piece = rest.empty() ? 1 : 1 + static_cast<unsigned char>(rest[0]) % 64;
  if (!rest.empty()) {
    rest.remove_prefix(1);
  }
  const auto whole = run(boundary, rest, rest.size() + 1);
  const auto split = run(boundary, rest, piece);
  if (whole.ok != split.ok ||
      (whole.ok && (whole.names != split.names || whole.data != split.data))) {
    __builtin_trap();  // the split changed the answer
  }
  for (const auto& d : whole.data) {
    std::string_view lines = d;
    while (!lines.empty()) {
      const auto e = lines.find('\n');
      const auto line = lines.substr(0, e);
      const auto a = validate_batch_line(line, "/v1/chat/completions");
      const auto again = validate_batch_line(std::string(line), "/v1/chat/completions");
      if (a.has_value() != again.has_value()) {
        __builtin_trap();
      }
      lines = e == std::string_view::npos ? std::string_view() : lines.substr(e + 1);
    }
  }
  return 0;
}
