#include "switchyard/proxy/json_validate.hpp"

#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace switchyard {

namespace {

// Bodies above this size get a parser of their own, freed afterwards, so that one large request
// does not leave its tape allocated on the worker for good.
constexpr std::size_t kept_parser_bytes = 1 << 20;

// A duplicate key found: its path from the root, built while unwinding.
struct duplicate {
  std::string path;
};

std::optional<duplicate> find_duplicate(simdjson::dom::element e,
                                        std::vector<std::string_view>& scratch);

std::optional<duplicate> check_object(simdjson::dom::object obj,
                                      std::vector<std::string_view>& scratch) {
  const std::size_t base = scratch.size();
  for (auto [key, value] : obj) {
    scratch.push_back(key);
  }
  const auto first = scratch.begin() + static_cast<std::ptrdiff_t>(base);
  const std::size_t n = scratch.size() - base;
  std::optional<std::string_view> dup;
  if (n <= 16) {
    // The common small object: pairwise comparison beats sorting.
    for (std::size_t i = base; i < scratch.size() && !dup; ++i) {
      for (std::size_t j = i + 1; j < scratch.size(); ++j) {
        if (scratch[i] == scratch[j]) {
          dup = scratch[i];
          break;
        }
      }
    }
  } else {
    std::sort(first, scratch.end());
    auto it = std::adjacent_find(first, scratch.end());
    if (it != scratch.end()) {
      dup = *it;
    }
  }
  scratch.resize(base);
  if (dup) {
    return duplicate{std::string(*dup)};
  }
  for (auto [key, value] : obj) {
    if (auto d = find_duplicate(value, scratch)) {
      d->path =
          std::string(key) + (!d->path.empty() && d->path.front() == '[' ? "" : ".") + d->path;
      return d;
    }
  }
  return std::nullopt;
}

std::optional<duplicate> find_duplicate(simdjson::dom::element e,
                                        std::vector<std::string_view>& scratch) {
  if (e.is_object()) {
    const simdjson::dom::object obj = e.get_object().value_unsafe();
    return check_object(obj, scratch);
  }
  if (e.is_array()) {
    std::size_t i = 0;
    const simdjson::dom::array items = e.get_array().value_unsafe();  // a copy of a small handle
    for (auto item : items) {
      if (item.is_object() || item.is_array()) {
        if (auto d = find_duplicate(item, scratch)) {
          d->path = "[" + std::to_string(i) + "]" +
                    (!d->path.empty() && d->path.front() == '[' ? "" : ".") + d->path;
          return d;
        }
      }
      ++i;
    }
  }
  return std::nullopt;
}

std::string_view describe_json_error(simdjson::error_code ec) {
  switch (ec) {
    case simdjson::NUMBER_ERROR:
      return "a number is malformed (RFC 8259: no leading zeros, digits after '.' and 'e')";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "a literal is misspelled (only true, false and null are allowed)";
    case simdjson::STRING_ERROR:
    case simdjson::UNCLOSED_STRING:
    case simdjson::UNESCAPED_CHARS:
      return "a string is malformed (bad escape, raw control character or missing quote)";
    case simdjson::UTF8_ERROR:
      return "the body is not valid UTF-8";
    case simdjson::DEPTH_ERROR:
      return "the document nests too deeply";
    case simdjson::TRAILING_CONTENT:
      return "there is content after the top-level value";
    case simdjson::EMPTY:
      return "the body is empty";
    default:
      return "the structure is malformed (a missing ':' or ',', or an unclosed bracket)";
  }
}

}  // namespace

result<void> validate_json_body(const std::string& body) {
  thread_local simdjson::dom::parser kept;
  std::unique_ptr<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = &kept;
  if (body.size() > kept_parser_bytes) {
    own = std::make_unique<simdjson::dom::parser>();
    parser = own.get();
  }
  simdjson::dom::element root;
  // The body is padded by the caller, so simdjson reads it in place (no copy).
  const bool padded = body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING;
  if (auto ec = parser->parse(body.data(), body.size(), !padded).get(root)) {
    return make_error(errc::invalid_request, "We could not parse the JSON body of your request: " +
                                                 std::string(describe_json_error(ec)) + ".");
  }
  // Reused per thread (cleared, capacity kept): no allocation per request once it has grown.
  thread_local std::vector<std::string_view> scratch;
  scratch.clear();
  if (auto d = find_duplicate(root, scratch)) {
    return make_error(errc::invalid_request,
                      "Duplicate key `" + d->path + "` in the JSON body; each key may appear once.",
                      d->path);
  }
  return {};
}

}  // namespace switchyard
