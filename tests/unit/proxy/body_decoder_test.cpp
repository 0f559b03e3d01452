#include "switchyard/proxy/body_decoder.hpp"

#include <gtest/gtest.h>

#include <zlib.h>

namespace switchyard {
namespace {

std::string compress(std::string_view in, int window_bits) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(body_decoder, identity_needs_no_decoder_and_unknown_codings_are_refused) {
  auto none = body_decoder::for_encoding("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto identity = body_decoder::for_encoding(" Identity ");
  ASSERT_TRUE(identity);
  EXPECT_FALSE(*identity);
  for (const char* v : {"br", "zstd", "gzip, br", "compress"}) {
    auto d = body_decoder::for_encoding(v);
    ASSERT_FALSE(d) << v;
    EXPECT_NE(d.error().message.find(v), std::string::npos);
  }
}

TEST(body_decoder, gzip_and_deflate_decode_at_any_split) {
  const std::string text = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n" +
                           std::string(5000, 'x') + "data: [DONE]\n\n";
  for (auto [coding, bits] :
       {std::pair{"gzip", 16 + MAX_WBITS}, {"x-gzip", 16 + MAX_WBITS}, {"deflate", MAX_WBITS}}) {
    const std::string packed = compress(text, bits);
    for (std::size_t piece : {1u, 13u, 4096u}) {
      auto d = body_decoder::for_encoding(coding);
      ASSERT_TRUE(d && *d);
      std::string out;
      for (std::size_t at = 0; at < packed.size(); at += piece) {
        ASSERT_TRUE((*d)->feed(std::string_view(packed).substr(at, piece), out));
      }
      EXPECT_EQ(out, text) << coding << " " << piece;
    }
  }
}

TEST(body_decoder, corrupt_input_and_bombs_are_errors) {
  auto d = body_decoder::for_encoding("gzip");
  std::string out;
  EXPECT_FALSE((*d)->feed("definitely not gzip", out));
  body_decoder small(true, 1000);
  const std::string bomb = compress(std::string(100000, 'a'), 16 + MAX_WBITS);
  EXPECT_FALSE(small.feed(bomb, out));
}

}  // namespace
}  // namespace switchyard
