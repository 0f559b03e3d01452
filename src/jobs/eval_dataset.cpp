#include "switchyard/jobs/eval_dataset.hpp"

#include "switchyard/jobs/eval_json.hpp"

#include <boost/json.hpp>

#include <array>
#include <cmath>
#include <utility>

namespace switchyard {

namespace {

namespace json = boost::json;

struct kind_name {
  std::string_view name;
  assertion_kind kind;
};

constexpr std::array<kind_name, 14> kinds{{
    {"equals", assertion_kind::equals},
    {"contains", assertion_kind::contains},
    {"icontains", assertion_kind::icontains},
    {"not-contains", assertion_kind::not_contains},
    {"regex", assertion_kind::regex},
    {"is-json", assertion_kind::is_json},
    {"json-schema", assertion_kind::json_schema},
    {"json-path", assertion_kind::json_path},
    {"finish-reason", assertion_kind::finish_reason},
    {"max-latency", assertion_kind::max_latency},
    {"max-cost", assertion_kind::max_cost},
    {"max-tokens", assertion_kind::max_tokens},
    {"similar", assertion_kind::similar},
    {"llm-rubric", assertion_kind::llm_rubric},
}};

constexpr std::string_view known_types =
    "equals, contains, contains-any, contains-all, icontains, icontains-any, icontains-all, "
    "not-contains, regex, is-json, json-schema, json-path, finish-reason, max-latency, max-cost, "
    "max-tokens, similar, llm-rubric";

// Collects one line's problems under a path prefix.
struct line_check {
  std::size_t line;
  std::vector<dataset_problem>& out;
  bool ok = true;
  void fail(const std::string& at, const std::string& message) {
    ok = false;
    out.push_back({line, at.empty() ? message : at + ": " + message});
  }
};

bool text_or_texts(const json::value& v) {
  if (v.is_string()) {
    return true;
  }
  if (!v.is_array() || v.as_array().empty()) {
    return false;
  }
  for (const auto& x : v.as_array()) {
    if (!x.is_string()) {
      return false;
    }
  }
  return true;
}

std::optional<double> number_of(const json::value* v) {
  if (!v || !v->is_number()) {
    return std::nullopt;
  }
  double d = v->to_number<double>();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

void parse_assertion(const json::value& raw, const std::string& at, eval_case& c,
                     const dataset_limits& limits, line_check& chk) {
  if (!raw.is_object()) {
    chk.fail(at, R"(must be an object like {"type": "contains", "value": "..."})");
    return;
  }
  const auto& o = raw.as_object();
  for (const auto& [k, v] : o) {
    if (k != "type" && k != "value" && k != "threshold" && k != "metric" && k != "path" &&
        k != "model" && k != "mode") {
      chk.fail(at + "." + std::string(k),
               "unknown member (an assertion has type, value, threshold, path, metric, model, "
               "mode)");
    }
  }
  const auto* type = o.if_contains("type");
  if (!type || !type->is_string()) {
    chk.fail(at + ".type", std::string("is required: one of ") + std::string(known_types));
    return;
  }
  std::string name(type->as_string());
  eval_assertion a;
  // Promptfoo's `-any` / `-all` spellings of contains and icontains.
  if (name == "contains-any" || name == "contains-all" || name == "icontains-any" ||
      name == "icontains-all") {
    a.all = name.ends_with("-all");
    name = name.substr(0, name.size() - 4);
  }
  bool found = false;
  for (const auto& k : kinds) {
    if (k.name == name) {
      a.kind = k.kind;
      found = true;
    }
  }
  if (!found) {
    chk.fail(at + ".type", "unknown assertion type `" + std::string(type->as_string()) +
                               "` (known: " + std::string(known_types) + ")");
    return;
  }
  if (const auto* m = o.if_contains("mode")) {
    if (!m->is_string() || (m->as_string() != "any" && m->as_string() != "all")) {
      chk.fail(at + ".mode", "must be any or all");
    } else {
      a.all = m->as_string() == "all";
    }
  }
  if (const auto* m = o.if_contains("metric")) {
    if (!m->is_string() || m->as_string().empty() || m->as_string().size() > 64) {
      chk.fail(at + ".metric", "must be a name of 1 to 64 characters");
    } else {
      a.metric = m->as_string();
    }
  }
  if (const auto* m = o.if_contains("model")) {
    if (!m->is_string() || m->as_string().empty()) {
      chk.fail(at + ".model", "must be a model name of the configuration");
    } else {
      a.model = m->as_string();
    }
  }
  const json::value* value = o.if_contains("value");
  const auto threshold = number_of(o.if_contains("threshold"));
  if (o.contains("threshold") && !threshold) {
    chk.fail(at + ".threshold", "must be a number");
  }
  // `equals` and `similar` compare with the case's `expected` when they have no value.
  if (!value && c.expected &&
      (a.kind == assertion_kind::equals || a.kind == assertion_kind::similar)) {
    value = &*c.expected;
  }
  switch (a.kind) {
    case assertion_kind::equals:
      if (!value) {
        chk.fail(at + ".value", "is required (or give the case an `expected`)");
        return;
      }
      break;
    case assertion_kind::contains:
    case assertion_kind::icontains:
    case assertion_kind::not_contains:
      if (!value || !text_or_texts(*value)) {
        chk.fail(at + ".value", "must be a text or a non-empty list of texts");
        return;
      }
      break;
    case assertion_kind::regex:
      if (!value || !value->is_string() || value->as_string().empty()) {
        chk.fail(at + ".value", "must be a regular expression (ECMAScript syntax)");
        return;
      }
      if (value->as_string().size() > limits.max_pattern_bytes) {
        chk.fail(at + ".value", "the pattern is longer than " +
                                    std::to_string(limits.max_pattern_bytes) + " bytes");
        return;
      }
      try {
        a.re = std::make_shared<const std::regex>(std::string(value->as_string()),
                                                  std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        chk.fail(at + ".value", std::string("does not compile: ") + e.what());
        return;
      }
      break;
    case assertion_kind::is_json:
    case assertion_kind::json_schema:
      if (a.kind == assertion_kind::json_schema && !value) {
        chk.fail(at + ".value", "must be a JSON schema object");
        return;
      }
      if (value) {
        if (auto p = schema_problem(*value)) {
          chk.fail(at + ".value", "schema " + *p);
          return;
        }
      }
      break;
    case assertion_kind::json_path: {
      const auto* p = o.if_contains("path");
      if (!p || !p->is_string() || !parse_json_path(p->as_string())) {
        chk.fail(at + ".path", "must be a JSON path like $.answer or $.items[0].name");
        return;
      }
      a.path = p->as_string();
      if (!value) {
        chk.fail(at + ".value", "is required: the JSON value expected at the path");
        return;
      }
      break;
    }
    case assertion_kind::finish_reason:
      if (!value || !value->is_string()) {
        chk.fail(at + ".value", "must be a finish reason such as stop or length");
        return;
      }
      break;
    case assertion_kind::max_latency:
    case assertion_kind::max_cost:
    case assertion_kind::max_tokens: {
      // The limit is `value` (Promptfoo) or `threshold`.
      auto limit = value ? number_of(value) : threshold;
      if (!limit || *limit < 0) {
        chk.fail(at + ".value", a.kind == assertion_kind::max_latency
                                    ? "must be the limit in milliseconds (a number ≥ 0)"
                                : a.kind == assertion_kind::max_cost
                                    ? "must be the limit in USD (a number ≥ 0)"
                                    : "must be the limit in completion tokens (a number ≥ 0)");
        return;
      }
      a.threshold = *limit;
      break;
    }
    case assertion_kind::similar:
      if (!value || !text_or_texts(*value)) {
        chk.fail(at + ".value", "must be the reference text (or give the case an `expected`)");
        return;
      }
      a.threshold = threshold.value_or(0.8);
      if (a.threshold < -1 || a.threshold > 1) {
        chk.fail(at + ".threshold", "must be a cosine similarity in [-1, 1]");
        return;
      }
      break;
    case assertion_kind::llm_rubric:
      if (!value || !value->is_string() || value->as_string().empty()) {
        chk.fail(at + ".value", "must be the rubric text the judge scores against");
        return;
      }
      a.threshold = threshold.value_or(0.5);
      if (a.threshold < 0 || a.threshold > 1) {
        chk.fail(at + ".threshold", "must be a score in [0, 1]");
        return;
      }
      break;
  }
  if (value) {
    a.value = *value;
  }
  if (chk.ok) {
    c.asserts.push_back(std::move(a));
  }
}

bool valid_messages(const json::value& v) {
  if (!v.is_array()) {
    return false;
  }
  for (const auto& m : v.as_array()) {
    if (!m.is_object()) {
      return false;
    }
    const auto* role = m.as_object().if_contains("role");
    if (!role || !role->is_string()) {
      return false;
    }
  }
  return true;
}

void parse_line(std::string_view text, std::size_t line, const dataset_limits& limits,
                eval_dataset& out) {
  line_check chk{line, out.problems};
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) {
    chk.fail("", "not valid JSON: " + ec.message());
    return;
  }
  if (!v.is_object()) {
    chk.fail("", "a case must be a JSON object");
    return;
  }
  const auto& o = v.as_object();
  eval_case c;
  c.line = line;
  for (const auto& [k, val] : o) {
    if (k != "id" && k != "messages" && k != "vars" && k != "expected" && k != "assert" &&
        k != "description") {
      chk.fail(std::string(k),
               "unknown member (a case has id, description, messages, vars, expected, assert)");
    }
  }
  if (const auto* id = o.if_contains("id")) {
    if (!id->is_string() || id->as_string().empty() || id->as_string().size() > 128) {
      chk.fail("id", "must be a text of 1 to 128 characters");
    } else {
      c.id = id->as_string();
    }
  }
  if (c.id.empty()) {
    c.id = "line-" + std::to_string(line);
  }
  if (const auto* m = o.if_contains("messages")) {
    if (!valid_messages(*m)) {
      chk.fail("messages", "must be a list of chat messages, each an object with a role");
    } else {
      c.messages = *m;
    }
  }
  if (const auto* vars = o.if_contains("vars")) {
    if (!vars->is_object()) {
      chk.fail("vars", "must be an object of prompt variables");
    } else {
      for (const auto& [k, val] : vars->as_object()) {
        if (!val.is_string() && !val.is_number() && !val.is_bool()) {
          chk.fail("vars." + std::string(k), "must be a text, a number or a boolean");
        }
      }
      c.vars = vars->as_object();
    }
  }
  if (!o.contains("messages") && !o.contains("vars")) {
    chk.fail("", "a case needs messages or vars (or both)");
  }
  if (const auto* e = o.if_contains("expected")) {
    c.expected = *e;
  }
  if (const auto* as = o.if_contains("assert")) {
    if (!as->is_array()) {
      chk.fail("assert", "must be a list of assertions");
    } else if (as->as_array().size() > limits.max_asserts) {
      chk.fail("assert", "at most " + std::to_string(limits.max_asserts) + " assertions a case");
    } else {
      for (std::size_t i = 0; i < as->as_array().size(); ++i) {
        parse_assertion(as->as_array()[i], "assert[" + std::to_string(i) + "]", c, limits, chk);
      }
    }
  }
  if (c.asserts.empty() && chk.ok) {
    if (!c.expected) {
      chk.fail("assert", "a case needs assertions or an expected value (checked with equals)");
    } else {
      eval_assertion a;
      a.kind = assertion_kind::equals;
      a.value = *c.expected;
      c.asserts.push_back(std::move(a));
    }
  }
  if (chk.ok) {
    out.cases.push_back(std::move(c));
  }
}

}  // namespace

std::string_view assertion_name(assertion_kind k) noexcept {
  for (const auto& n : kinds) {
    if (n.kind == k) {
      return n.name;
    }
  }
  return "?";
}

eval_dataset parse_dataset(std::string_view text, const dataset_limits& limits) {
  eval_dataset out;
  std::size_t line = 0;
  while (!text.empty() && out.problems.size() < limits.max_problems) {
    ++line;
    auto nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!l.empty() && l.back() == '\r') {
      l.remove_suffix(1);
    }
    auto first = l.find_first_not_of(" \t");
    if (first == std::string_view::npos || l.substr(first).starts_with("//")) {
      continue;
    }
    if (l.size() > limits.max_line_bytes) {
      out.problems.push_back(
          {line, "longer than " + std::to_string(limits.max_line_bytes) + " bytes"});
      continue;
    }
    if (out.cases.size() >= limits.max_cases) {
      out.problems.push_back(
          {line, "more than " + std::to_string(limits.max_cases) +
                     " cases in one dataset (evaluations.max_cases in the configuration)"});
      break;
    }
    parse_line(l, line, limits, out);
  }
  if (out.cases.empty() && out.problems.empty()) {
    out.problems.push_back({0, "the dataset has no cases"});
  }
  if (out.problems.size() > limits.max_problems) {
    out.problems.resize(limits.max_problems);
  }
  return out;
}

std::string describe_problems(const std::vector<dataset_problem>& problems) {
  std::string s;
  for (const auto& p : problems) {
    if (p.line) {
      s += "line " + std::to_string(p.line) + ": ";
    }
    s += p.message;
    s += '\n';
  }
  return s;
}

}  // namespace switchyard
