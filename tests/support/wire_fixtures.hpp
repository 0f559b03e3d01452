#pragma once

// The conformance corpus of real upstream wire formats (tests/fixtures/wire; each file's source
// is in its SOURCES.md), shared by the unit and the integration tests. Needs the compile
// definition SWITCHYARD_WIRE_FIXTURES (the folder).

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

/// The whole file, bytes as they are.
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// `expected.json`: each fixture's facts (text, usage, events…).
inline const boost::json::object& expected() {
  static const boost::json::value v = boost::json::parse(
      read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) / "expected.json"));
  return v.as_object();
}

/// The fixtures with extension `ext` (".sse" or ".json", never expected.json), sorted.
inline std::vector<std::filesystem::path> fixtures(std::string_view ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(SWITCHYARD_WIRE_FIXTURES)) {
    if (e.path().extension() == ext && e.path().filename() != "expected.json") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace switchyard::test
