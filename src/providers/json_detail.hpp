#pragma once

// Small Boost.JSON helpers shared by the provider translations (not a public header).

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchyard::providers_detail {

/// Deep enough for real tool schemas; bounded so that a hostile body cannot recurse for long.
constexpr std::size_t max_json_depth = 64;

/// True when every number in `v` is finite: Boost.JSON parses 1e400 as infinity and would
/// serialize it as `Infinity`, which is not JSON. Recursion is bounded by `max_json_depth`.
inline bool finite_numbers(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& e : v.get_array()) {
        if (!finite_numbers(e)) {
          return false;
        }
      }
      return true;
    case boost::json::kind::object:
      for (const auto& m : v.get_object()) {
        if (!finite_numbers(m.value())) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

/// Parses `text` as one JSON document whose numbers are all finite; nullopt otherwise.
inline std::optional<boost::json::value> parse_json(std::string_view text,
                                                    boost::json::storage_ptr sp = {}) {
  boost::json::parse_options opts;
  opts.max_depth = max_json_depth;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, std::move(sp), opts);
  if (ec || !finite_numbers(v)) {
    return std::nullopt;
  }
  return v;
}

/// `v` as an integer when it is one (an integral double included), else nullopt.
inline std::optional<std::int64_t> as_int(const boost::json::value* v) {
  if (v == nullptr) {
    return std::nullopt;
  }
  if (v->is_int64()) {
    return v->get_int64();
  }
  if (v->is_uint64()) {
    return v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)
               ? std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()))
               : std::nullopt;
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

/// `v` as a double when it is a number, else nullopt.
inline std::optional<double> as_number(const boost::json::value* v) {
  if (v == nullptr || !v->is_number()) {
    return std::nullopt;
  }
  if (v->is_double()) {
    return v->get_double();
  }
  return v->is_int64() ? static_cast<double>(v->get_int64()) : static_cast<double>(v->get_uint64());
}

/// The string at `key` of `o`, "" when absent or not a string.
inline std::string_view string_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

/// The count at `key` of `o` (a non-negative integer), 0 when absent or not one.
inline std::int64_t count_at(const boost::json::object& o, std::string_view key) {
  auto n = as_int(o.if_contains(key));
  return n && *n > 0 ? *n : 0;
}

}  // namespace switchyard::providers_detail
