#pragma once

// The Anthropic wire fixtures (tests/fixtures/providers/anthropic, sources in its SOURCES.md),
// found next to the conformance corpus the unit tests already know (SWITCHYARD_WIRE_FIXTURES).

#include "switchyard/sse/sse_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

inline std::filesystem::path anthropic_fixture_dir() {
  return std::filesystem::path(SWITCHYARD_WIRE_FIXTURES).parent_path() / "providers" / "anthropic";
}

/// The fixture's bytes as they are.
inline std::string anthropic_fixture(std::string_view name) {
  std::ifstream f(anthropic_fixture_dir() / std::string(name), std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Every `.sse` fixture name, sorted.
inline std::vector<std::string> anthropic_stream_fixtures() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(anthropic_fixture_dir())) {
    if (e.path().extension() == ".sse") {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The SSE events of `bytes`, fed in pieces of `stride` bytes (0 = all at once).
inline std::vector<sse_event> sse_events(std::string_view bytes, std::size_t stride = 0) {
  sse_parser p(1 << 20);
  std::vector<sse_event> out;
  if (stride == 0) {
    stride = bytes.size() + 1;
  }
  for (std::size_t at = 0; at < bytes.size(); at += stride) {
    EXPECT_TRUE(p.feed(bytes.substr(at, stride), out).has_value());
  }
  return out;
}

}  // namespace switchyard::test
