#include "switchyard/jobs/multipart.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace switchyard {
namespace {

struct part {
  multipart_part_header h;
  std::string data;
};

// Feeds `body` cut at `cuts` (sorted offsets) and collects the parts.
result<std::vector<part>> parse(std::string_view boundary, std::string_view body,
                                const std::vector<std::size_t>& cuts = {}) {
  std::vector<part> parts;
  bool open = false;
  multipart_reader r(std::string(boundary),
                     {.on_part = [&](const multipart_part_header& h) -> result<void> {
                        parts.push_back({h, {}});
                        open = true;
                        return {};
                      },
                      .on_data = [&](std::string_view d) -> result<void> {
                        EXPECT_TRUE(open);
                        parts.back().data.append(d);
                        return {};
                      },
                      .on_part_end = [&]() -> result<void> {
                        open = false;
                        return {};
                      }});
  std::size_t at = 0;
  for (auto c : cuts) {
    if (auto f = r.feed(body.substr(at, c - at)); !f) {
      return f.error();
    }
    at = c;
  }
  if (auto f = r.feed(body.substr(at)); !f) {
    return f.error();
  }
  if (auto f = r.finish(); !f) {
    return f.error();
  }
  return parts;
}

// What undici's FormData (Node 20's fetch, used by the openai npm SDK) writes, by its source
// (lib/web/fetch/body.js extractBody: `--` boundary CRLF, Content-Disposition with name and
// filename escaped, Content-Type, CRLF CRLF, bytes, CRLF; then `--boundary--` CRLF).
const std::string boundary = "----formdata-undici-0123456789";
const std::string file_bytes =
    "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{}}\n"
    "--not-a-boundary\r\n------formdata-undici-01234567 almost\n";
std::string undici_body() {
  return "--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n" +
         file_bytes + "\r\n--" + boundary + "--\r\n";
}

TEST(multipart_boundary, reads_token_and_quoted_forms) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(*multipart_boundary("multipart/form-data; charset=utf-8; boundary=x"), "x");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"\""));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unterminated"));
}

TEST(multipart_reader, parses_the_undici_shape) {
  auto parts = parse(boundary, undici_body());
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].h.name, "purpose");
  EXPECT_FALSE((*parts)[0].h.has_filename);
  EXPECT_EQ((*parts)[0].data, "batch");
  EXPECT_EQ((*parts)[1].h.name, "file");
  EXPECT_EQ((*parts)[1].h.filename, "in.jsonl");
  EXPECT_EQ((*parts)[1].h.content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[1].data, file_bytes);
}

TEST(multipart_reader, same_parts_at_every_random_split) {
  const auto body = undici_body();
  const auto whole = parse(boundary, body);
  ASSERT_TRUE(whole);
  std::mt19937 rng(16);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      cuts.push_back(rng() % (body.size() + 1));
    }
    std::sort(cuts.begin(), cuts.end());
    auto parts = parse(boundary, body, cuts);
    ASSERT_TRUE(parts) << parts.error().message;
    ASSERT_EQ(parts->size(), whole->size());
    for (std::size_t i = 0; i < parts->size(); ++i) {
      EXPECT_EQ((*parts)[i].data, (*whole)[i].data);
      EXPECT_EQ((*parts)[i].h.name, (*whole)[i].h.name);
    }
  }
  // And a byte at a time.
  std::vector<std::size_t> every(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    every[i] = i;
  }
  auto bytewise = parse(boundary, body, every);
  ASSERT_TRUE(bytewise);
  EXPECT_EQ((*bytewise)[1].data, file_bytes);
}

TEST(multipart_reader, preamble_padding_case_and_folding) {
  const std::string body =
      "ignored preamble\r\n--b  \t\r\ncontent-disposition: FORM-DATA;\r\n name=\"f\"; "
      "filename=\"a\\\"q.txt\"\r\n\r\nxyz\r\n--b--\r\nepilogue";
  auto parts = parse("b", body);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].h.name, "f");
  EXPECT_EQ((*parts)[0].h.filename, "a\"q.txt");
  EXPECT_EQ((*parts)[0].data, "xyz");
}

TEST(multipart_reader, filename_star_and_empty_part) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%C3%A9t%C3%A9.jsonl"
      "\r\n\r\n\r\n--b--";
  auto parts = parse("b", body);
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)[0].h.filename, "\xC3\xA9t\xC3\xA9.jsonl");
  EXPECT_EQ((*parts)[0].data, "");
}

TEST(multipart_reader, refuses_malformed_bodies) {
  EXPECT_FALSE(parse("b", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end"));
  EXPECT_FALSE(parse("b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("b", "--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("b", "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("b", "--bX\r\n"));  // the delimiter must be followed by CRLF or --
  EXPECT_FALSE(parse("b", "--b\r\nno colon here\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("b", ""));
  EXPECT_FALSE(parse("b", std::string(100 * 1024, 'p')));  // preamble over its bound
}

TEST(multipart_reader, bounds_parts_and_headers) {
  std::string many;
  for (int i = 0; i < 100; ++i) {
    many += "--b\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nv\r\n";
  }
  many += "--b--";
  EXPECT_FALSE(parse("b", many));
  const std::string huge = "--b\r\nContent-Disposition: form-data; name=\"" +
                           std::string(20 * 1024, 'n') + "\"\r\n\r\nv\r\n--b--";
  EXPECT_FALSE(parse("b", huge));
}

TEST(multipart_reader, a_callback_error_stops_the_reader) {
  multipart_reader r("b", {.on_part = [](const multipart_part_header&) -> result<void> {
                             return make_error(errc::invalid_request, "no thanks");
                           },
                           .on_data = nullptr,
                           .on_part_end = nullptr});
  auto f = r.feed("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "no thanks");
  EXPECT_FALSE(r.feed("more"));
}

// The bytes the official openai npm SDK sent for files.create({file: fs.createReadStream(...),
// purpose: "batch"}), captured by tests/e2e/batches.test.mjs ("captures the SDK's multipart")
// with the Content-Type it sent and the file it uploaded (the sidecar JSON).
TEST(multipart_reader, parses_the_captured_openai_node_upload) {
  const std::string dir = std::string(SWITCHYARD_WIRE_FIXTURES) + "/openai_files";
  std::ifstream head(dir + "/files_create.json");
  std::ifstream body(dir + "/files_create.body", std::ios::binary);
  ASSERT_TRUE(head && body);
  std::stringstream hs, bs;
  hs << head.rdbuf();
  bs << body.rdbuf();
  const auto meta = boost::json::parse(hs.str()).as_object();
  const std::string ct(meta.at("content_type").as_string());
  const std::string uploaded(meta.at("file").as_string());
  const std::string filename(meta.at("filename").as_string());
  auto b = multipart_boundary(ct);
  ASSERT_TRUE(b) << b.error().message;
  const auto raw = bs.str();
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> cuts;
    for (int i = 0; i < 6; ++i) {
      cuts.push_back(rng() % (raw.size() + 1));
    }
    std::sort(cuts.begin(), cuts.end());
    auto parts = parse(*b, raw, cuts);
    ASSERT_TRUE(parts) << parts.error().message;
    bool file = false, purpose = false;
    for (const auto& p : *parts) {
      if (p.h.name == "file") {
        file = true;
        EXPECT_EQ(p.h.filename, filename);
        EXPECT_EQ(p.data, uploaded);
      } else if (p.h.name == "purpose") {
        purpose = true;
        EXPECT_EQ(p.data, "batch");
      }
    }
    EXPECT_TRUE(file && purpose);
  }
}

}  // namespace
}  // namespace switchyard
