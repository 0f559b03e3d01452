#include "switchyard/jobs/eval_report.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace switchyard {

namespace {

namespace json = boost::json;

rate_summary& entry(std::vector<rate_summary>& v, const std::string& name) {
  for (auto& e : v) {
    if (e.name == name) {
      return e;
    }
  }
  v.push_back({name, 0, 0, 0, 0});
  return v.back();
}

void add(rate_summary& s, const assertion_outcome& o) {
  ++s.total;
  s.passed += o.pass ? 1 : 0;
  s.errors += o.error ? 1 : 0;
  s.score_sum += o.score;
}

json::object rate_json(const rate_summary& s) {
  return {{"name", s.name},
          {"passed", s.passed},
          {"total", s.total},
          {"errors", s.errors},
          {"pass_rate", s.total ? static_cast<double>(s.passed) / static_cast<double>(s.total) : 0},
          {"mean_score", s.total ? s.score_sum / static_cast<double>(s.total) : 0}};
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string percent(double v) {
  return fixed(100 * v, 1) + "%";
}

std::string pad(std::string s, std::size_t width) {
  // Display width: count code points, so that "≥" or names in UTF-8 line up.
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  if (n < width) {
    s.append(width - n, ' ');
  }
  return s;
}

std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') {
      out += "\"\"";
    } else {
      out.push_back(c);
    }
  }
  out += '"';
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, LF and CR.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string render_table(const eval_report& r) {
  std::string out = "evaluation " + r.id + " of experiment " + r.experiment + " on " + r.dataset +
                    " (" + std::to_string(r.case_ids.size()) + " cases)\n";
  if (!r.judge_model.empty() || !r.embedding_model.empty()) {
    // The run's defaults (an assertion's own `model` overrides them for that assertion).
    out += "judge model " + (r.judge_model.empty() ? "-" : r.judge_model) + ", embedding model " +
           (r.embedding_model.empty() ? "-" : r.embedding_model) + "\n";
  }
  out += "\n";
  out += pad("variant", 14) + pad("prompt", 18) + pad("model", 18) + pad("pass", 9) +
         pad("rate", 8) + pad("95% CI", 16) + pad("errors", 8) + pad("p50 ms", 9) +
         pad("p95 ms", 9) + pad("tokens", 9) + "cost USD\n";
  for (const auto& v : r.variants) {
    out +=
        pad(v.info.name, 14) +
        pad(v.info.prompt_version.empty() ? "-" : v.info.prompt_version, 18) +
        pad(v.info.model, 18) + pad(std::to_string(v.passed) + "/" + std::to_string(v.cases), 9) +
        pad(percent(v.pass_rate), 8) +
        pad(percent(v.interval.lo) + "–" + percent(v.interval.hi), 16) +
        pad(std::to_string(v.errors), 8) + pad(fixed(v.p50_latency_ms, 0), 9) +
        pad(fixed(v.p95_latency_ms, 0), 9) +
        pad(std::to_string(v.prompt_tokens + v.completion_tokens), 9) + fixed(v.cost_usd, 6) + "\n";
  }
  out += "\nper assertion\n";
  for (const auto& v : r.variants) {
    out += "  " + v.info.name + ":";
    for (const auto& a : v.per_assertion) {
      out += "  " + a.name + " " + std::to_string(a.passed) + "/" + std::to_string(a.total);
    }
    out += "\n";
  }
  bool any_metric = false;
  for (const auto& v : r.variants) {
    any_metric = any_metric || !v.metrics.empty();
  }
  if (any_metric) {
    out += "\nmetrics\n";
    for (const auto& v : r.variants) {
      out += "  " + v.info.name + ":";
      for (const auto& m : v.metrics) {
        out += "  " + m.name + " " + std::to_string(m.passed) + "/" + std::to_string(m.total) +
               " (mean score " +
               fixed(m.total ? m.score_sum / static_cast<double>(m.total) : 0, 3) + ")";
      }
      out += "\n";
    }
  }
  if (!r.pairs.empty()) {
    out += "\npaired differences (McNemar, same cases)\n";
    for (const auto& p : r.pairs) {
      out += "  " + p.a + " vs " + p.b + ": " + (p.difference >= 0 ? "+" : "") +
             fixed(100 * p.difference, 1) + " points; only " + p.a + " passed " +
             std::to_string(p.a_only) + ", only " + p.b + " passed " + std::to_string(p.b_only) +
             "; p = " + fixed(p.test.p_value, 4) + " (" + std::string(p.test.method) + ")\n";
    }
  }
  if (r.min_pass_rate) {
    out += "\ngate: every variant's pass rate ≥ " + percent(*r.min_pass_rate) + ": " +
           (r.gate_passed ? "passed" : "FAILED") + "\n";
  }
  return out;
}

}  // namespace

void summarize(eval_report& r, const std::vector<eval_case>& cases,
               const std::vector<eval_variant_info>& variants) {
  r.case_ids.clear();
  for (const auto& c : cases) {
    r.case_ids.push_back(c.id);
  }
  r.variants.clear();
  r.pairs.clear();
  std::vector<std::vector<double>> latencies(variants.size());
  // pass[v][case]
  std::vector<std::vector<char>> pass(variants.size(), std::vector<char>(cases.size(), 0));
  for (const auto& v : variants) {
    eval_variant_summary s;
    s.info = v;
    r.variants.push_back(std::move(s));
  }
  for (auto& res : r.results) {
    auto& s = r.variants[res.variant_index];
    const auto& c = cases[res.case_index];
    ++s.cases;
    s.passed += res.pass ? 1 : 0;
    s.errors += res.error ? 1 : 0;
    pass[res.variant_index][res.case_index] = static_cast<char>(res.pass);
    if (res.out.ok) {
      latencies[res.variant_index].push_back(res.out.latency_ms);
    }
    s.prompt_tokens += res.out.prompt_tokens;
    s.completion_tokens += res.out.completion_tokens;
    s.cost_usd += res.out.cost_usd;
    for (std::size_t i = 0; i < c.asserts.size(); ++i) {
      // A failed request fails every assertion of the case (an error, not a verdict).
      const assertion_outcome failed{false, true, 0, res.out.error};
      const auto& o = i < res.asserts.size() ? res.asserts[i] : failed;
      add(entry(s.per_assertion, assertion_label(c.asserts[i])), o);
      if (!c.asserts[i].metric.empty()) {
        add(entry(s.metrics, c.asserts[i].metric), o);
      }
    }
  }
  r.gate_passed = true;
  for (std::size_t v = 0; v < r.variants.size(); ++v) {
    auto& s = r.variants[v];
    s.pass_rate = s.cases ? static_cast<double>(s.passed) / static_cast<double>(s.cases) : 0;
    s.interval = wilson_interval(s.passed, s.cases);
    auto& l = latencies[v];
    double sum = 0;
    for (double x : l) {
      sum += x;
    }
    s.mean_latency_ms = l.empty() ? 0 : sum / static_cast<double>(l.size());
    s.p50_latency_ms = quantile(l, 0.5);
    s.p95_latency_ms = quantile(l, 0.95);
    if (r.min_pass_rate && s.pass_rate < *r.min_pass_rate) {
      r.gate_passed = false;
    }
  }
  for (std::size_t a = 0; a < variants.size(); ++a) {
    for (std::size_t b = a + 1; b < variants.size(); ++b) {
      eval_pair_summary p;
      p.a = variants[a].name;
      p.b = variants[b].name;
      for (std::size_t c = 0; c < cases.size(); ++c) {
        const bool x = pass[a][c] != 0;
        const bool y = pass[b][c] != 0;
        (x && y ? p.both : x ? p.a_only : y ? p.b_only : p.neither)++;
      }
      p.difference = r.variants[a].pass_rate - r.variants[b].pass_rate;
      p.test = mcnemar_test(p.a_only, p.b_only);
      r.pairs.push_back(std::move(p));
    }
  }
}

json::value report_json(const eval_report& r, bool with_cases) {
  json::object o = report_summary_json(r).as_object();
  json::array pairs;
  for (const auto& p : r.pairs) {
    pairs.push_back(json::object{{"a", p.a},
                                 {"b", p.b},
                                 {"both_passed", p.both},
                                 {"only_a_passed", p.a_only},
                                 {"only_b_passed", p.b_only},
                                 {"neither_passed", p.neither},
                                 {"difference", p.difference},
                                 {"p_value", p.test.p_value},
                                 {"statistic", p.test.statistic},
                                 {"method", p.test.method}});
  }
  json::array variants;
  for (const auto& v : r.variants) {
    json::array per, metrics;
    for (const auto& a : v.per_assertion) {
      per.push_back(rate_json(a));
    }
    for (const auto& m : v.metrics) {
      metrics.push_back(rate_json(m));
    }
    variants.push_back(json::object{{"name", v.info.name},
                                    {"prompt_version", v.info.prompt_version},
                                    {"model", v.info.model},
                                    {"cases", v.cases},
                                    {"passed", v.passed},
                                    {"errors", v.errors},
                                    {"pass_rate", v.pass_rate},
                                    {"pass_rate_ci", json::array{v.interval.lo, v.interval.hi}},
                                    {"assertions", std::move(per)},
                                    {"metrics", std::move(metrics)},
                                    {"latency_ms", json::object{{"p50", v.p50_latency_ms},
                                                                {"p95", v.p95_latency_ms},
                                                                {"mean", v.mean_latency_ms}}},
                                    {"prompt_tokens", v.prompt_tokens},
                                    {"completion_tokens", v.completion_tokens},
                                    {"cost_usd", v.cost_usd}});
  }
  o["variants"] = std::move(variants);
  o["pairs"] = std::move(pairs);
  if (with_cases) {
    json::array cases;
    for (const auto& res : r.results) {
      json::array asserts;
      for (const auto& a : res.asserts) {
        asserts.push_back(json::object{
            {"pass", a.pass}, {"error", a.error}, {"score", a.score}, {"reason", a.reason}});
      }
      cases.push_back(json::object{
          {"case", res.case_index < r.case_ids.size() ? r.case_ids[res.case_index] : ""},
          {"variant", r.variants[res.variant_index].info.name},
          {"pass", res.pass},
          {"error", res.error},
          {"request_error", res.out.error},
          {"output", res.out.text},
          {"finish_reason", res.out.finish_reason},
          {"latency_ms", res.out.latency_ms},
          {"prompt_tokens", res.out.prompt_tokens},
          {"completion_tokens", res.out.completion_tokens},
          {"cost_usd", res.out.cost_usd},
          {"assertions", std::move(asserts)}});
    }
    o["cases"] = std::move(cases);
  }
  return o;
}

json::value report_summary_json(const eval_report& r) {
  json::array variants;
  for (const auto& v : r.variants) {
    variants.push_back(json::object{{"name", v.info.name},
                                    {"prompt_version", v.info.prompt_version},
                                    {"model", v.info.model},
                                    {"cases", v.cases},
                                    {"passed", v.passed},
                                    {"pass_rate", v.pass_rate},
                                    {"pass_rate_ci", json::array{v.interval.lo, v.interval.hi}}});
  }
  json::object o{
      {"id", r.id},
      {"experiment", r.experiment},
      {"dataset", r.dataset},
      {"status", r.status},
      {"created_at", r.created_at},
      {"finished_at", r.finished_at},
      {"cases", r.case_ids.size()},
      {"min_pass_rate", r.min_pass_rate ? json::value(*r.min_pass_rate) : json::value(nullptr)},
      {"gate_passed", r.gate_passed},
      {"judge_model", r.judge_model.empty() ? json::value(nullptr) : json::value(r.judge_model)},
      {"embedding_model",
       r.embedding_model.empty() ? json::value(nullptr) : json::value(r.embedding_model)},
      {"variants", std::move(variants)}};
  return o;
}

std::string render_report(const eval_report& r, std::string_view format) {
  if (format == "json") {
    return json::serialize(report_json(r, true)) + "\n";
  }
  if (format == "csv") {
    std::string out =
        "case,variant,prompt_version,model,pass,error,latency_ms,prompt_tokens,completion_tokens,"
        "cost_usd,finish_reason,failures,output\n";
    for (const auto& res : r.results) {
      const auto& v = r.variants[res.variant_index].info;
      std::string failures;
      for (std::size_t i = 0; i < res.asserts.size(); ++i) {
        if (!res.asserts[i].pass) {
          failures += (failures.empty() ? "" : "; ") + res.asserts[i].reason;
        }
      }
      if (!res.out.ok) {
        failures = res.out.error;
      }
      out += csv_field(r.case_ids[res.case_index]) + "," + csv_field(v.name) + "," +
             csv_field(v.prompt_version) + "," + csv_field(v.model) + "," +
             (res.pass ? "true" : "false") + "," + (res.error ? "true" : "false") + "," +
             fixed(res.out.latency_ms, 1) + "," + std::to_string(res.out.prompt_tokens) + "," +
             std::to_string(res.out.completion_tokens) + "," + fixed(res.out.cost_usd, 8) + "," +
             csv_field(res.out.finish_reason) + "," + csv_field(failures) + "," +
             csv_field(res.out.text) + "\n";
    }
    return out;
  }
  if (format == "junit") {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"" +
                      xml_escape("switchyard eval " + r.experiment) + "\">\n";
    for (std::size_t v = 0; v < r.variants.size(); ++v) {
      const auto& s = r.variants[v];
      out += "  <testsuite name=\"" + xml_escape(r.experiment + "." + s.info.name) + "\" tests=\"" +
             std::to_string(s.cases) + "\" failures=\"" +
             std::to_string(s.cases - s.passed - s.errors) + "\" errors=\"" +
             std::to_string(s.errors) + "\">\n";
      for (const auto& res : r.results) {
        if (res.variant_index != v) {
          continue;
        }
        out += "    <testcase classname=\"" + xml_escape(r.experiment + "." + s.info.name) +
               "\" name=\"" + xml_escape(r.case_ids[res.case_index]) + "\" time=\"" +
               fixed(res.out.latency_ms / 1000, 3) + "\"";
        if (res.pass) {
          out += "/>\n";
          continue;
        }
        std::string why;
        if (!res.out.ok) {
          why = res.out.error;
        } else {
          for (const auto& a : res.asserts) {
            if (!a.pass) {
              why += (why.empty() ? "" : "; ") + a.reason;
            }
          }
        }
        out += std::string(">\n      <") + (res.error ? "error" : "failure") + " message=\"" +
               xml_escape(why) + "\"/>\n    </testcase>\n";
      }
      out += "  </testsuite>\n";
    }
    out += "</testsuites>\n";
    return out;
  }
  return render_table(r);
}

}  // namespace switchyard
