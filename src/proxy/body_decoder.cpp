#include "switchyard/proxy/body_decoder.hpp"

#include "switchyard/core/text.hpp"

#include <boost/beast/core/string.hpp>

#include <zlib.h>

namespace switchyard {

struct body_decoder::state {
  z_stream z{};
  bool open = false;
  bool ended = false;
  ~state() {
    if (open) {
      inflateEnd(&z);
    }
  }
  bool init(int window_bits) {
    if (open) {
      inflateEnd(&z);
    }
    z = z_stream{};
    open = inflateInit2(&z, window_bits) == Z_OK;
    return open;
  }
};

namespace {


}  // namespace

result<std::unique_ptr<body_decoder>> body_decoder::for_encoding(std::string_view value) {
  const auto v = trim(value);
  if (v.empty() || boost::beast::iequals(v, "identity")) {
    return std::unique_ptr<body_decoder>();
  }
  constexpr std::size_t max_output = 16u << 20;
  if (boost::beast::iequals(v, "gzip") || boost::beast::iequals(v, "x-gzip")) {
    return std::make_unique<body_decoder>(true, max_output);
  }
  if (boost::beast::iequals(v, "deflate")) {
    return std::make_unique<body_decoder>(false, max_output);
  }
  return make_error(errc::upstream_broken,
                    "upstream sent a body with Content-Encoding: " + std::string(v) +
                        ", which the gateway cannot decode (it asks for identity; gzip and "
                        "deflate are decoded)");
}

body_decoder::body_decoder(bool gzip, std::size_t max_output)
    : st_(std::make_unique<state>()), gzip_(gzip), max_output_(max_output) {
  // 16 + 15: gzip framing only; 15: zlib framing (RFC 9110's "deflate"). Raw deflate, which a
  // few old servers send as "deflate", is refused as corrupt.
  st_->init(gzip ? 16 + MAX_WBITS : MAX_WBITS);
}

body_decoder::~body_decoder() = default;

result<void> body_decoder::feed(std::string_view in, std::string& out) {
  auto& s = *st_;
  if (!s.open) {
    return make_error(errc::internal, "zlib could not be initialised");
  }
  if (s.ended) {
    return {};  // bytes after the end of the compressed stream are ignored
  }
  const std::size_t out_before = out.size();
  s.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  do {
    char buf[16384];
    s.z.next_out = reinterpret_cast<Bytef*>(buf);
    s.z.avail_out = sizeof buf;
    rc = inflate(&s.z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - s.z.avail_out);
    if (out.size() - out_before > max_output_) {
      return make_error(errc::upstream_broken, "upstream's compressed body expands beyond " +
                                                   std::to_string(max_output_) + " bytes a read");
    }
  } while (rc == Z_OK && (s.z.avail_in > 0 || s.z.avail_out == 0));
  if (rc == Z_STREAM_END) {
    s.ended = true;
    return {};
  }
  if (rc == Z_OK || rc == Z_BUF_ERROR) {
    return {};  // needs more input
  }
  return make_error(errc::upstream_broken, std::string("upstream's compressed body is corrupt: ") +
                                               (s.z.msg ? s.z.msg : "inflate failed"));
}

}  // namespace switchyard
