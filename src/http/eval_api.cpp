#include "switchyard/http/eval_api.hpp"

#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/jobs/eval_service.hpp"
#include "switchyard/runtime/worker.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

namespace switchyard {

namespace {

namespace json = boost::json;

result<eval_service*> service(const local_call& c) {
  if (!c.w.shared.evals) {
    return make_error(errc::unavailable, "Evaluations are not available in this process.");
  }
  return c.w.shared.evals;
}

result<std::string> text_member(const json::object& o, const char* key, bool required) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) {
      return make_error(errc::invalid_request, std::string(key) + " is required", key);
    }
    return std::string();
  }
  if (!v->is_string()) {
    return make_error(errc::invalid_request, std::string(key) + " must be a string", key);
  }
  return std::string(v->as_string());
}

}  // namespace

result<void> read_eval_request(const json::object& body, const dataset_limits& limits,
                               eval_options& o, std::vector<eval_case>& cases) {
  for (const auto& [k, v] : body) {
    if (k != "experiment" && k != "dataset" && k != "cases" && k != "jsonl" && k != "variants" &&
        k != "concurrency" && k != "judge_model" && k != "embedding_model" &&
        k != "min_pass_rate" && k != "timeout") {
      return make_error(errc::invalid_request,
                        "unknown member " + std::string(k) +
                            " (expected experiment, dataset, cases or jsonl, variants, "
                            "concurrency, judge_model, embedding_model, min_pass_rate, timeout)",
                        std::string(k));
    }
  }
  auto experiment = text_member(body, "experiment", true);
  auto dataset = text_member(body, "dataset", false);
  auto judge = text_member(body, "judge_model", false);
  auto emb = text_member(body, "embedding_model", false);
  for (auto* r : {&experiment, &dataset, &judge, &emb}) {
    if (!*r) {
      return r->error();
    }
  }
  o.experiment = *experiment;
  o.dataset_name = dataset->empty() ? "api" : *dataset;
  o.judge_model = *judge;
  o.embedding_model = *emb;
  if (const auto* v = body.if_contains("variants")) {
    if (!v->is_array()) {
      return make_error(errc::invalid_request, "variants must be a list of variant names",
                        "variants");
    }
    for (const auto& n : v->as_array()) {
      if (!n.is_string()) {
        return make_error(errc::invalid_request, "variants must be a list of variant names",
                          "variants");
      }
      o.variants.emplace_back(n.as_string());
    }
  }
  if (const auto* v = body.if_contains("concurrency")) {
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 64) {
      return make_error(errc::invalid_request, "concurrency must be an integer from 1 to 64",
                        "concurrency");
    }
    o.concurrency = static_cast<unsigned>(v->as_int64());
  }
  if (const auto* v = body.if_contains("min_pass_rate")) {
    if (!v->is_number() || v->to_number<double>() < 0 || v->to_number<double>() > 1) {
      return make_error(errc::invalid_request, "min_pass_rate must be a number in [0, 1]",
                        "min_pass_rate");
    }
    o.min_pass_rate = v->to_number<double>();
  }
  if (const auto* v = body.if_contains("timeout")) {  // seconds, as the CLI's --timeout
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 3600) {
      return make_error(errc::invalid_request,
                        "timeout must be a whole number of seconds from 1 to 3600", "timeout");
    }
    o.request_timeout = std::chrono::seconds(v->as_int64());
  }
  // The dataset: JSON Lines text as a file holds it, or a list of case objects (one "line"
  // each, so that problems are numbered by position).
  std::string text;
  const auto* lines = body.if_contains("jsonl");
  const auto* list = body.if_contains("cases");
  if ((lines != nullptr) == (list != nullptr)) {
    return make_error(errc::invalid_request,
                      "give the dataset as exactly one of cases (a list of case objects) or "
                      "jsonl (JSON Lines text)",
                      "cases");
  }
  if (lines) {
    if (!lines->is_string()) {
      return make_error(errc::invalid_request, "jsonl must be a string of JSON Lines", "jsonl");
    }
    text = lines->as_string();
  } else {
    if (!list->is_array()) {
      return make_error(errc::invalid_request, "cases must be a list of case objects", "cases");
    }
    for (const auto& c : list->as_array()) {
      text += json::serialize(c);
      text += '\n';
    }
  }
  auto ds = parse_dataset(text, limits);
  if (!ds.problems.empty()) {
    std::string msg = "The dataset has problems (" + std::string(lines ? "line" : "case") +
                      " numbers from 1):\n" + describe_problems(ds.problems);
    msg.pop_back();
    return make_error(errc::invalid_request, std::move(msg), lines ? "jsonl" : "cases");
  }
  cases = std::move(ds.cases);
  return {};
}

result<string_response> start_evaluation(const local_call& c) {
  auto svc = service(c);
  if (!svc) {
    return svc.error();
  }
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  if (ec || !v.is_object()) {
    return make_error(
        errc::invalid_request,
        R"(The body must be a JSON object like {"experiment": "...", "cases": [...]}.)");
  }
  eval_options o;
  std::vector<eval_case> cases;
  dataset_limits limits;
  limits.max_cases =
      static_cast<std::size_t>(c.w.shared.snapshot->current()->cfg->evaluations.max_cases);
  if (auto r = read_eval_request(v.as_object(), limits, o, cases); !r) {
    return r.error();
  }
  auto id = (*svc)->start(std::move(o), std::move(cases));
  if (!id) {
    return id.error();
  }
  return json_answer(c, json::object{{"id", *id}, {"status", "running"}}, http::status::accepted);
}

result<string_response> list_evaluations(const local_call& c) {
  auto svc = service(c);
  if (!svc) {
    return svc.error();
  }
  std::size_t limit = 50;
  if (auto text = c.route.query("limit"); text && !text->empty()) {
    auto [ptr, e] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (e != std::errc{} || ptr != text->data() + text->size() || limit < 1 || limit > 1000) {
      return make_error(errc::invalid_request, "limit must be an integer from 1 to 1000", "limit");
    }
  }
  auto list = (*svc)->list(c.route.query("experiment").value_or(""), limit);
  if (!list) {
    return list.error();
  }
  return json_answer(c, json::object{{"object", "list"}, {"data", std::move(*list)}});
}

result<string_response> get_evaluation(const local_call& c) {
  auto svc = service(c);
  if (!svc) {
    return svc.error();
  }
  const std::string id = c.route.param("id");
  auto st = (*svc)->status(id);
  if (!st) {
    return st.error();
  }
  if (!*st) {
    return make_error(errc::not_found, "No evaluation " + id + ".", "id");
  }
  return json_answer(c, **st);
}

}  // namespace switchyard
