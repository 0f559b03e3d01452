#include "switchyard/jobs/eval_assertions.hpp"

#include "switchyard/jobs/eval_json.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace switchyard {

namespace {

namespace json = boost::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

std::string_view trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    return {};
  }
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

assertion_outcome verdict(bool pass, std::string reason) {
  return {pass, false, pass ? 1.0 : 0.0, pass ? std::string() : std::move(reason)};
}

std::vector<std::string> needles(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.as_string());
  } else {
    for (const auto& x : v.as_array()) {
      out.emplace_back(x.as_string());
    }
  }
  return out;
}

std::string quoted(std::string_view s) {
  return json::serialize(json::value(json::string(s.substr(0, 200))));
}

assertion_outcome check_contains(const eval_assertion& a, const eval_output& out) {
  const bool fold = a.kind == assertion_kind::icontains;
  const std::string hay = fold ? lower(out.text) : out.text;
  std::size_t found = 0;
  std::string missing;
  std::string present;
  const auto list = needles(a.value);
  for (const auto& n : list) {
    if (hay.find(fold ? lower(n) : n) != std::string::npos) {
      ++found;
      if (present.empty()) {
        present = n;
      }
    } else if (missing.empty()) {
      missing = n;
    }
  }
  if (a.kind == assertion_kind::not_contains) {
    return verdict(found == 0, "the output contains " + quoted(present));
  }
  const bool pass = a.all ? found == list.size() : found > 0;
  return verdict(pass, a.all ? "the output lacks " + quoted(missing)
                             : "the output contains none of " + json::serialize(a.value));
}

std::optional<json::value> parse_output(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(trim(text), ec);
  if (ec) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

assertion_outcome check_assertion(const eval_assertion& a, const eval_output& out,
                                  const check_limits& limits) {
  switch (a.kind) {
    case assertion_kind::equals:
      if (a.value.is_string()) {
        return verdict(trim(out.text) == trim(a.value.as_string()),
                       "the output is not " + quoted(a.value.as_string()));
      } else {
        // A JSON expected value: the output must parse to an equal value.
        auto v = parse_output(out.text);
        return verdict(v && json_equal(*v, a.value),
                       "the output is not the JSON value " + json::serialize(a.value));
      }
    case assertion_kind::contains:
    case assertion_kind::icontains:
    case assertion_kind::not_contains:
      return check_contains(a, out);
    case assertion_kind::regex: {
      if (out.text.size() > limits.max_regex_input) {
        return {false, true, 0,
                "the output is longer than " + std::to_string(limits.max_regex_input) +
                    " bytes, the limit for a regex"};
      }
      try {
        return verdict(std::regex_search(out.text, *a.re),
                       "the output does not match /" + std::string(a.value.as_string()) + "/");
      } catch (const std::regex_error& e) {  // error_complexity, error_stack
        return {false, true, 0, std::string("the regex could not be evaluated: ") + e.what()};
      }
    }
    case assertion_kind::is_json:
    case assertion_kind::json_schema: {
      auto v = parse_output(out.text);
      if (!v) {
        return verdict(false, "the output is not valid JSON");
      }
      if (!a.value.is_null()) {
        if (auto why = schema_violation(a.value, *v)) {
          return verdict(false, "schema: " + *why);
        }
      }
      return verdict(true, "");
    }
    case assertion_kind::json_path: {
      auto v = parse_output(out.text);
      if (!v) {
        return verdict(false, "the output is not valid JSON");
      }
      const auto* at = at_json_path(*v, *parse_json_path(a.path));
      if (!at) {
        return verdict(false, a.path + " is not in the output");
      }
      return verdict(json_equal(*at, a.value),
                     a.path + " is " + json::serialize(*at) + ", not " + json::serialize(a.value));
    }
    case assertion_kind::finish_reason:
      return verdict(out.finish_reason == a.value.as_string(),
                     "finish_reason is " + quoted(out.finish_reason));
    case assertion_kind::max_latency: {
      std::ostringstream s;
      s << "latency " << out.latency_ms << " ms > " << a.threshold << " ms";
      return verdict(out.latency_ms <= a.threshold, s.str());
    }
    case assertion_kind::max_cost: {
      std::ostringstream s;
      s << "cost " << out.cost_usd << " USD > " << a.threshold << " USD";
      return verdict(out.cost_usd <= a.threshold, s.str());
    }
    case assertion_kind::max_tokens:
      return verdict(static_cast<double>(out.completion_tokens) <= a.threshold,
                     std::to_string(out.completion_tokens) + " completion tokens > " +
                         std::to_string(static_cast<long long>(a.threshold)));
    case assertion_kind::similar:
    case assertion_kind::llm_rubric:
      break;
  }
  return {false, true, 0, "a model-graded assertion needs its model's answer"};
}

double cosine_similarity(std::span<const double> a, std::span<const double> b) noexcept {
  if (a.size() != b.size() || a.empty()) {
    return 0;
  }
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na <= 0 || nb <= 0) {
    return 0;
  }
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

assertion_outcome similar_outcome(const eval_assertion& a, double cosine) {
  std::ostringstream s;
  s << "cosine " << cosine << " < " << a.threshold;
  assertion_outcome o = verdict(cosine >= a.threshold, s.str());
  o.score = cosine;
  return o;
}

std::string judge_messages(std::string_view rubric, std::string_view output,
                           std::string_view input_text) {
  json::array m;
  m.push_back(json::object{
      {"role", "system"},
      {"content",
       "You grade an AI assistant's output against a rubric. Answer with one JSON object and "
       "nothing else: {\"pass\": true or false, \"score\": a number from 0 to 1, \"reason\": "
       "\"one sentence\"}."}});
  std::string user = "<rubric>\n" + std::string(rubric) + "\n</rubric>\n";
  if (!input_text.empty()) {
    user += "<input>\n" + std::string(input_text) + "\n</input>\n";
  }
  user += "<output>\n" + std::string(output) + "\n</output>";
  m.push_back(json::object{{"role", "user"}, {"content", user}});
  return json::serialize(m);
}

assertion_outcome judge_outcome(const eval_assertion& a, std::string_view answer) {
  // The first complete JSON object in the answer: a judge may wrap it in a code fence or a
  // sentence. The stream parser stops at the end of the first value and says where that was.
  for (std::size_t at = answer.find('{'); at != std::string_view::npos;
       at = answer.find('{', at + 1)) {
    json::stream_parser p;
    json::error_code ec;
    std::size_t used = p.write_some(answer.data() + at, answer.size() - at, ec);
    (void)used;
    if (ec || !p.done()) {
      continue;
    }
    json::value v = p.release();
    if (!v.is_object()) {
      continue;
    }
    const auto& o = v.as_object();
    const auto* score = o.if_contains("score");
    const auto* pass = o.if_contains("pass");
    std::string reason;
    if (const auto* r = o.if_contains("reason"); r && r->is_string()) {
      reason = r->as_string();
    }
    std::optional<double> s;
    if (score && score->is_number()) {
      double d = score->to_number<double>();
      if (!std::isfinite(d) || d < 0 || d > 1) {
        return {false, true, 0,
                "the judge's score " + json::serialize(*score) + " is not in [0, 1]"};
      }
      s = d;
    }
    if (!s && pass && pass->is_bool()) {
      s = pass->as_bool() ? 1.0 : 0.0;
    }
    if (!s) {
      continue;  // not the verdict object (perhaps an example the judge quoted)
    }
    std::ostringstream why;
    why << "judge score " << *s << " < " << a.threshold;
    if (!reason.empty()) {
      why << ": " << reason.substr(0, 300);
    }
    assertion_outcome out{*s >= a.threshold, false, *s, *s >= a.threshold ? "" : why.str()};
    return out;
  }
  return {false, true, 0,
          "the judge's answer has no JSON verdict with a score or pass: " +
              quoted(answer.substr(0, 200))};
}

std::string assertion_label(const eval_assertion& a) {
  std::string name(assertion_name(a.kind));
  if ((a.kind == assertion_kind::contains || a.kind == assertion_kind::icontains) &&
      a.value.is_array()) {
    name += a.all ? "-all" : "-any";
  }
  return name;
}

}  // namespace switchyard
