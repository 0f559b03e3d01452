#include "switchyard/jobs/eval_json.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace switchyard {

namespace {

namespace json = boost::json;

bool known_type(std::string_view t) {
  return t == "object" || t == "array" || t == "string" || t == "number" || t == "integer" ||
         t == "boolean" || t == "null";
}

std::optional<std::string> problem_at(const json::value& schema, const std::string& at, int depth) {
  if (depth > 32) {
    return at + ": nested too deeply (at most 32 levels)";
  }
  if (schema.is_bool()) {
    return std::nullopt;  // true / false schemas
  }
  if (!schema.is_object()) {
    return at + ": a schema must be an object";
  }
  const auto& o = schema.as_object();
  const std::string prefix = at.empty() ? "" : at + ".";
  for (const auto& [k, v] : o) {
    const std::string key(k);
    if (key == "title" || key == "description" || key == "$schema") {
      continue;
    }
    if (key == "type") {
      auto ok = [](const json::value& t) { return t.is_string() && known_type(t.as_string()); };
      bool good = ok(v);
      if (v.is_array()) {
        good = !v.as_array().empty();
        for (const auto& t : v.as_array()) {
          good = good && ok(t);
        }
      }
      if (!good) {
        return prefix +
               "type: must be object, array, string, number, integer, boolean, null "
               "or a list of them";
      }
    } else if (key == "properties") {
      if (!v.is_object()) {
        return prefix + "properties: must be an object of schemas";
      }
      for (const auto& [name, sub] : v.as_object()) {
        if (auto p = problem_at(sub, prefix + "properties." + std::string(name), depth + 1)) {
          return p;
        }
      }
    } else if (key == "required") {
      bool good = v.is_array();
      if (good) {
        for (const auto& r : v.as_array()) {
          good = good && r.is_string();
        }
      }
      if (!good) {
        return prefix + "required: must be a list of member names";
      }
    } else if (key == "additionalProperties" || key == "items") {
      if (auto p = problem_at(v, prefix + key, depth + 1)) {
        return p;
      }
    } else if (key == "enum") {
      if (!v.is_array()) {
        return prefix + "enum: must be a list of values";
      }
    } else if (key == "const") {
      continue;
    } else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
               key == "exclusiveMaximum") {
      if (!v.is_number()) {
        return prefix + key + ": must be a number";
      }
    } else if (key == "minLength" || key == "maxLength" || key == "minItems" || key == "maxItems") {
      if (!v.is_number() || v.to_number<double>() < 0 ||
          std::floor(v.to_number<double>()) != v.to_number<double>()) {
        return prefix + key + ": must be a non-negative integer";
      }
    } else {
      return prefix + key + ": unsupported keyword `" + key +
             "` (supported: type, properties, required, additionalProperties, items, enum, "
             "const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, "
             "minItems, maxItems)";
    }
  }
  return std::nullopt;
}

bool has_type(const json::value& v, std::string_view t) {
  if (t == "object") {
    return v.is_object();
  }
  if (t == "array") {
    return v.is_array();
  }
  if (t == "string") {
    return v.is_string();
  }
  if (t == "number") {
    return v.is_number();
  }
  if (t == "integer") {
    if (v.is_int64() || v.is_uint64()) {
      return true;
    }
    return v.is_double() && std::isfinite(v.as_double()) &&
           std::floor(v.as_double()) == v.as_double();
  }
  if (t == "boolean") {
    return v.is_bool();
  }
  return v.is_null();
}

// Code points, not bytes: JSON Schema's lengths count characters.
std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return n;
}

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);  // 0, 1.5, 1e+20: as the schema's author wrote it
  return buf;
}

std::optional<std::string> violation_at(const json::value& schema, const json::value& v,
                                        const std::string& at) {
  if (schema.is_bool()) {
    return schema.as_bool() ? std::nullopt : std::optional<std::string>(at + ": not allowed");
  }
  const auto& o = schema.as_object();
  if (const auto* t = o.if_contains("type")) {
    bool ok = false;
    if (t->is_string()) {
      ok = has_type(v, t->as_string());
    } else {
      for (const auto& each : t->as_array()) {
        ok = ok || has_type(v, each.as_string());
      }
    }
    if (!ok) {
      return at + ": must be of type " + json::serialize(*t);
    }
  }
  if (const auto* e = o.if_contains("enum")) {
    bool found = false;
    for (const auto& each : e->as_array()) {
      found = found || json_equal(each, v);
    }
    if (!found) {
      return at + ": must be one of " + json::serialize(*e);
    }
  }
  if (const auto* c = o.if_contains("const"); c && !json_equal(*c, v)) {
    return at + ": must be " + json::serialize(*c);
  }
  if (v.is_number()) {
    const double x = v.to_number<double>();
    auto bound = [&](const char* key) -> std::optional<double> {
      const auto* b = o.if_contains(key);
      return b ? std::optional<double>(b->to_number<double>()) : std::nullopt;
    };
    if (auto b = bound("minimum"); b && x < *b) {
      return at + ": must be ≥ " + number_text(*b);
    }
    if (auto b = bound("maximum"); b && x > *b) {
      return at + ": must be ≤ " + number_text(*b);
    }
    if (auto b = bound("exclusiveMinimum"); b && x <= *b) {
      return at + ": must be > " + number_text(*b);
    }
    if (auto b = bound("exclusiveMaximum"); b && x >= *b) {
      return at + ": must be < " + number_text(*b);
    }
  }
  auto count = [&](const char* key) -> std::optional<std::size_t> {
    const auto* b = o.if_contains(key);
    return b ? std::optional<std::size_t>(static_cast<std::size_t>(b->to_number<double>()))
             : std::nullopt;
  };
  if (v.is_string()) {
    const std::size_t n = utf8_length(v.as_string());
    if (auto b = count("minLength"); b && n < *b) {
      return at + ": must have at least " + std::to_string(*b) + " characters";
    }
    if (auto b = count("maxLength"); b && n > *b) {
      return at + ": must have at most " + std::to_string(*b) + " characters";
    }
  }
  if (v.is_array()) {
    const auto& a = v.as_array();
    if (auto b = count("minItems"); b && a.size() < *b) {
      return at + ": must have at least " + std::to_string(*b) + " items";
    }
    if (auto b = count("maxItems"); b && a.size() > *b) {
      return at + ": must have at most " + std::to_string(*b) + " items";
    }
    if (const auto* items = o.if_contains("items")) {
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (auto p = violation_at(*items, a[i], at + "[" + std::to_string(i) + "]")) {
          return p;
        }
      }
    }
  }
  if (v.is_object()) {
    const auto& obj = v.as_object();
    if (const auto* req = o.if_contains("required")) {
      for (const auto& name : req->as_array()) {
        if (!obj.contains(name.as_string())) {
          return at + ": member `" + std::string(name.as_string()) + "` is required";
        }
      }
    }
    const auto* props = o.if_contains("properties");
    const auto* extra = o.if_contains("additionalProperties");
    for (const auto& [k, sub] : obj) {
      const json::value* s = props ? props->as_object().if_contains(k) : nullptr;
      if (!s) {
        s = extra;
      }
      if (s) {
        if (auto p = violation_at(*s, sub, at + "." + std::string(k))) {
          return p;
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> schema_problem(const json::value& schema) {
  auto p = problem_at(schema, "", 0);
  return p;
}

std::optional<std::string> schema_violation(const json::value& schema, const json::value& v) {
  return violation_at(schema, v, "$");
}

std::optional<std::vector<json_path_step>> parse_json_path(std::string_view p) {
  if (p.empty() || p[0] != '$') {
    return std::nullopt;
  }
  std::vector<json_path_step> out;
  std::size_t i = 1;
  while (i < p.size()) {
    if (p[i] == '.') {
      std::size_t j = i + 1;
      while (j < p.size() && p[j] != '.' && p[j] != '[') {
        ++j;
      }
      if (j == i + 1) {
        return std::nullopt;
      }
      out.emplace_back(std::string(p.substr(i + 1, j - i - 1)));
      i = j;
    } else if (p[i] == '[') {
      if (i + 1 < p.size() && (p[i + 1] == '\'' || p[i + 1] == '"')) {
        const char q = p[i + 1];
        auto end = p.find(q, i + 2);
        if (end == std::string_view::npos || end + 1 >= p.size() || p[end + 1] != ']') {
          return std::nullopt;
        }
        out.emplace_back(std::string(p.substr(i + 2, end - i - 2)));
        i = end + 2;
        continue;
      }
      std::size_t j = i + 1;
      std::size_t index = 0;
      while (j < p.size() && p[j] >= '0' && p[j] <= '9' && j - i <= 9) {
        index = index * 10 + static_cast<std::size_t>(p[j] - '0');
        ++j;
      }
      if (j == i + 1 || j >= p.size() || p[j] != ']') {
        return std::nullopt;
      }
      out.emplace_back(index);
      i = j + 1;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

const json::value* at_json_path(const json::value& v, const std::vector<json_path_step>& path) {
  const json::value* cur = &v;
  for (const auto& step : path) {
    if (const auto* name = std::get_if<std::string>(&step)) {
      if (!cur->is_object()) {
        return nullptr;
      }
      cur = cur->as_object().if_contains(*name);
    } else {
      const std::size_t i = std::get<std::size_t>(step);
      if (!cur->is_array() || i >= cur->as_array().size()) {
        return nullptr;
      }
      cur = &cur->as_array()[i];
    }
    if (!cur) {
      return nullptr;
    }
  }
  return cur;
}

bool json_equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if ((a.is_int64() || a.is_uint64()) && (b.is_int64() || b.is_uint64())) {
      return a == b ||
             (a.is_int64() && b.is_uint64() && a.as_int64() >= 0 &&
              static_cast<std::uint64_t>(a.as_int64()) == b.as_uint64()) ||
             (a.is_uint64() && b.is_int64() && b.as_int64() >= 0 &&
              static_cast<std::uint64_t>(b.as_int64()) == a.as_uint64());
    }
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  if (a.is_array()) {
    const auto& x = a.as_array();
    const auto& y = b.as_array();
    if (x.size() != y.size()) {
      return false;
    }
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!json_equal(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.as_object();
    const auto& y = b.as_object();
    if (x.size() != y.size()) {
      return false;
    }
    for (const auto& [k, xv] : x) {
      const auto* yv = y.if_contains(k);
      if (!yv || !json_equal(xv, *yv)) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

}  // namespace switchyard
