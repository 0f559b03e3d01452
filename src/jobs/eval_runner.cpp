#include "switchyard/jobs/eval_runner.hpp"

#include "switchyard/core/eval_secret.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/jobs/eval_client.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <tuple>

namespace switchyard {

namespace {

namespace json = boost::json;
using header_list_t = std::vector<std::pair<std::string, std::string>>;

bool model_known(const plan& p, std::string_view name) {
  if (p.cfg->find_model(name)) {
    return true;
  }
  for (const auto& e : p.experiments) {
    if (e.cfg->match_model == name) {
      return true;
    }
  }
  return false;
}

std::string names_of(const experiment_plan& e) {
  std::string s;
  for (const auto& v : e.variants) {
    s += (s.empty() ? "" : ", ") + v.name;
  }
  return s;
}

// The gateway's own error message from an OpenAI-shaped error body, else the body's start.
std::string error_message(const eval_http_answer& a) {
  json::error_code ec;
  auto v = json::parse(a.body, ec);
  std::string msg;
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (const auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
        msg = m->as_string();
      }
    }
  }
  if (msg.empty()) {
    msg = a.body.substr(0, 200);
  }
  return "HTTP " + std::to_string(a.status) + ": " + msg;
}

std::int64_t int_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_number() ? static_cast<std::int64_t>(v->to_number<double>()) : 0;
}

eval_output read_chat(const eval_http_answer& a, const price_config& price) {
  eval_output out;
  out.status = a.status;
  out.latency_ms = a.latency_ms;
  if (!a.error.empty()) {
    out.error = a.error;
    return out;
  }
  if (a.status < 200 || a.status >= 300) {
    out.error = error_message(a);
    return out;
  }
  json::error_code ec;
  auto v = json::parse(a.body, ec);
  const json::object* choice = nullptr;
  if (!ec && v.is_object()) {
    if (const auto* ch = v.as_object().if_contains("choices");
        ch && ch->is_array() && !ch->as_array().empty() && ch->as_array()[0].is_object()) {
      choice = &ch->as_array()[0].as_object();
    }
  }
  if (!choice) {
    out.error = "the answer is not a chat completion (no choices[0])";
    return out;
  }
  if (const auto* m = choice->if_contains("message"); m && m->is_object()) {
    if (const auto* c = m->as_object().if_contains("content"); c && c->is_string()) {
      out.text = c->as_string();
    }
  }
  if (const auto* f = choice->if_contains("finish_reason"); f && f->is_string()) {
    out.finish_reason = f->as_string();
  }
  if (const auto* u = v.as_object().if_contains("usage"); u && u->is_object()) {
    out.prompt_tokens = int_member(u->as_object(), "prompt_tokens");
    out.completion_tokens = int_member(u->as_object(), "completion_tokens");
  }
  out.cost_usd = cost_usd(price, static_cast<double>(out.prompt_tokens),
                          static_cast<double>(out.completion_tokens));
  out.ok = true;
  return out;
}

// The text the judge sees as the case's input: the last user message, else the variables.
std::string input_text(const eval_case& c) {
  if (c.messages.is_array()) {
    const auto& a = c.messages.as_array();
    for (auto it = a.rbegin(); it != a.rend(); ++it) {
      const auto& m = it->as_object();
      const auto* role = m.if_contains("role");
      const auto* content = m.if_contains("content");
      if (role && role->is_string() && role->as_string() == "user" && content &&
          content->is_string()) {
        return std::string(content->as_string());
      }
    }
  }
  return c.vars.empty() ? std::string() : json::serialize(c.vars);
}

// The case's messages; a case with only vars sends one user message listing them ("name:
// value" lines), since chat APIs need a message and the variant's prompt is the system message.
json::value messages_of(const eval_case& c) {
  if (c.messages.is_array()) {
    return c.messages;
  }
  std::string text;
  for (const auto& [k, v] : c.vars) {
    text +=
        std::string(k) + ": " + (v.is_string() ? std::string(v.as_string()) : json::serialize(v));
    text += '\n';
  }
  if (!text.empty()) {
    text.pop_back();
  }
  return json::array{json::object{{"role", "user"}, {"content", text}}};
}

class run {
 public:
  run(const eval_plan& ep, const std::vector<eval_case>& cases, eval_report& report,
      const eval_progress& progress, const std::atomic<bool>* cancel)
      : ep_(ep),
        o_(ep.settings),
        cases_(cases),
        report_(report),
        progress_(progress),
        cancel_(cancel) {
    report_.results.assign(cases_.size() * ep_.variants.size(), eval_case_result{});
    ran_.assign(report_.results.size(), 0);
  }

  net::awaitable<void> slot(tcp::endpoint gateway) {
    eval_connection conn(co_await net::this_coro::executor, gateway, o_.request_timeout,
                         o_.max_response_bytes);
    while (next_ < report_.results.size() && !(cancel_ && cancel_->load())) {
      const std::size_t t = next_++;
      co_await one(conn, t);
      ran_[t] = 1;
      ++done_;
      if (progress_) {
        progress_(done_, report_.results.size());
      }
    }
  }

  // Ends the run within 100 ms of a cancel (a gateway stopping), in-flight requests included:
  // their deadlines could be long, and a stopping gateway may never answer them.
  net::awaitable<void> watch(net::io_context& io) {
    net::steady_timer timer(co_await net::this_coro::executor);
    while (done_ < report_.results.size()) {
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (cancel_ && cancel_->load()) {
        io.stop();
        co_return;
      }
    }
  }

  void finish() {
    for (std::size_t t = 0; t < report_.results.size(); ++t) {
      if (!ran_[t]) {
        auto& r = report_.results[t];
        r.case_index = t / ep_.variants.size();
        r.variant_index = t % ep_.variants.size();
        r.error = true;
        r.out.error = "not run: the evaluation was cancelled";
      }
    }
  }

 private:
  // POSTs with the evaluation headers, waiting out the gateway's 429s (bounded).
  net::awaitable<eval_http_answer> send(eval_connection& conn, const char* target, std::string body,
                                        header_list_t headers) {
    headers.emplace_back(std::string(eval_header), eval_secret());
    eval_http_answer a;
    for (unsigned attempt = 0;; ++attempt) {
      a = co_await conn.post(target, body, headers);
      if (a.status != 429 || attempt >= o_.max_rate_limit_waits) {
        co_return a;
      }
      long long wait_ms = 1000;
      if (!a.retry_after_ms.empty()) {
        try {
          wait_ms = std::stoll(a.retry_after_ms);
        } catch (const std::exception&) {
          wait_ms = 1000;  // not a number: the default wait
        }
      }
      wait_ms = std::clamp<long long>(wait_ms, 1, o_.max_rate_limit_wait.count());
      net::steady_timer timer(co_await net::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(wait_ms));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  net::awaitable<assertion_outcome> similar(eval_connection& conn, const eval_assertion& a,
                                            const eval_output& out) {
    const std::string model = a.model.empty() ? o_.embedding_model : a.model;
    json::array input;
    input.emplace_back(json::string(out.text));
    if (a.value.is_string()) {
      input.push_back(a.value);
    } else {
      for (const auto& r : a.value.as_array()) {
        input.push_back(r);
      }
    }
    const std::size_t n = input.size();
    json::object body{{"model", model}, {"input", std::move(input)}};
    auto ans = co_await send(conn, "/v1/embeddings", json::serialize(body), {});
    if (!ans.error.empty() || ans.status != 200) {
      co_return assertion_outcome{
          false, true, 0,
          "embedding model " + model + ": " + (ans.error.empty() ? error_message(ans) : ans.error)};
    }
    json::error_code ec;
    auto v = json::parse(ans.body, ec);
    std::vector<std::vector<double>> vecs(n);
    const json::value* data = !ec && v.is_object() ? v.as_object().if_contains("data") : nullptr;
    if (data && data->is_array()) {
      for (std::size_t i = 0; i < data->as_array().size(); ++i) {
        const auto& d = data->as_array()[i];
        if (!d.is_object()) {
          continue;
        }
        const auto* idx = d.as_object().if_contains("index");
        const auto* emb = d.as_object().if_contains("embedding");
        const std::size_t at =
            idx && idx->is_number() ? static_cast<std::size_t>(idx->to_number<double>()) : i;
        if (at >= n || !emb || !emb->is_array()) {
          continue;
        }
        for (const auto& x : emb->as_array()) {
          if (x.is_number()) {
            vecs[at].push_back(x.to_number<double>());
          }
        }
      }
    }
    for (const auto& e : vecs) {
      if (e.empty() || e.size() != vecs[0].size()) {
        co_return assertion_outcome{false, true, 0,
                                    "embedding model " + model +
                                        ": the answer lacks float embeddings of one size for "
                                        "every input"};
      }
    }
    double best = -1;
    for (std::size_t i = 1; i < n; ++i) {
      best = std::max(best, cosine_similarity(vecs[0], vecs[i]));
    }
    co_return similar_outcome(a, best);
  }

  net::awaitable<assertion_outcome> judge(eval_connection& conn, const eval_assertion& a,
                                          const eval_case& c, const eval_output& out) {
    const std::string model = a.model.empty() ? o_.judge_model : a.model;
    json::object body{
        {"model", model},
        {"messages", json::parse(judge_messages(a.value.as_string(), out.text, input_text(c)))},
        {"temperature", 0}};
    auto ans = co_await send(conn, "/v1/chat/completions", json::serialize(body), {});
    auto verdict = read_chat(ans, {});
    if (!verdict.ok) {
      co_return assertion_outcome{false, true, 0, "judge model " + model + ": " + verdict.error};
    }
    co_return judge_outcome(a, verdict.text);
  }

  net::awaitable<void> one(eval_connection& conn, std::size_t t) {
    const std::size_t ci = t / ep_.variants.size();
    const std::size_t vi = t % ep_.variants.size();
    const auto& c = cases_[ci];
    eval_case_result res;
    res.case_index = ci;
    res.variant_index = vi;
    json::object body{{"model", ep_.match_model}, {"messages", messages_of(c)}};
    if (!c.vars.empty()) {
      // Prompt variables travel as metadata (experiments/prompt_template.hpp), as strings.
      json::object md;
      for (const auto& [k, v] : c.vars) {
        md[k] = v.is_string() ? v : json::value(json::string(json::serialize(v)));
      }
      body["metadata"] = std::move(md);
    }
    header_list_t headers{{"x-switchyard-variant", ep_.experiment + "=" + ep_.variants[vi].name}};
    if (!ep_.match_header.empty()) {
      headers.emplace_back(ep_.match_header,
                           ep_.match_header_value.empty() ? "eval" : ep_.match_header_value);
    }
    auto ans = co_await send(conn, "/v1/chat/completions", json::serialize(body), headers);
    res.out = read_chat(ans, ep_.prices[vi]);
    if (!res.out.ok) {
      res.error = true;
    } else {
      bool pass = true;
      for (const auto& a : c.asserts) {
        assertion_outcome o;
        if (a.kind == assertion_kind::similar) {
          o = co_await similar(conn, a, res.out);
        } else if (a.kind == assertion_kind::llm_rubric) {
          o = co_await judge(conn, a, c, res.out);
        } else {
          o = check_assertion(a, res.out);
        }
        pass = pass && o.pass;
        res.error = res.error || o.error;
        res.asserts.push_back(std::move(o));
      }
      res.pass = pass;
    }
    report_.results[t] = std::move(res);
  }

  const eval_plan& ep_;
  const eval_settings& o_;
  const std::vector<eval_case>& cases_;
  eval_report& report_;
  const eval_progress& progress_;
  const std::atomic<bool>* cancel_;
  std::size_t next_ = 0;  // one thread: the runner's io_context
  std::size_t done_ = 0;
  std::vector<char> ran_;
};

}  // namespace

std::string_view eval_source_name(eval_source s) noexcept {
  switch (s) {
    case eval_source::run:
      return "run";
    case eval_source::config:
      return "config";
    case eval_source::none:
      break;
  }
  return "none";
}

eval_settings resolve_eval_settings(const evaluations_config& c, const eval_options& o) {
  eval_settings s;
  s.concurrency = o.concurrency.value_or(c.concurrency);
  const auto model = [](const std::string& run, const std::string& cfg, std::string& out,
                        eval_source& from) {
    out = !run.empty() ? run : cfg;
    from = !run.empty() ? eval_source::run : !cfg.empty() ? eval_source::config : eval_source::none;
  };
  model(o.judge_model, c.judge_model, s.judge_model, s.judge_from);
  model(o.embedding_model, c.embedding_model, s.embedding_model, s.embedding_from);
  s.request_timeout = o.request_timeout.value_or(c.request_timeout);
  s.max_response_bytes = static_cast<std::size_t>(c.max_response_bytes);
  s.max_rate_limit_waits = c.rate_limit_waits;
  s.max_rate_limit_wait = c.rate_limit_max_wait;
  if (o.min_pass_rate) {
    s.min_pass_rate = o.min_pass_rate;
  } else if (c.min_pass_rate >= 0) {
    s.min_pass_rate = c.min_pass_rate;
  }
  return s;
}

eval_plan prepare_eval(const plan& p, const eval_options& o, const std::vector<eval_case>& cases) {
  eval_plan ep;
  ep.experiment = o.experiment;
  ep.dataset_name = o.dataset_name;
  const evaluations_config& ec = p.cfg->evaluations;
  ep.settings = resolve_eval_settings(ec, o);
  auto problem = [&](std::size_t line, std::string m) {
    ep.problems.push_back({line, std::move(m)});
  };
  if (ep.settings.concurrency < 1 || ep.settings.concurrency > ec.max_concurrency) {
    problem(0, "concurrency: " + std::to_string(ep.settings.concurrency) + " is outside 1.." +
                   std::to_string(ec.max_concurrency) +
                   " (evaluations.max_concurrency in the configuration); ask for fewer");
  }
  // The run's models once (the configuration's were checked when it was loaded).
  for (const auto& [name, from, flag] :
       {std::tuple{ep.settings.judge_model, ep.settings.judge_from, "--judge-model (judge_model)"},
        std::tuple{ep.settings.embedding_model, ep.settings.embedding_from,
                   "--embedding-model (embedding_model)"}}) {
    if (from == eval_source::run && !model_known(p, name)) {
      problem(0, std::string(flag) + ": no model `" + name + "` in the configuration");
    }
  }
  if (cases.size() > ec.max_cases) {
    problem(0, "the dataset has " + std::to_string(cases.size()) + " cases, more than " +
                   std::to_string(ec.max_cases) +
                   " (evaluations.max_cases in the configuration); split it");
  }
  const experiment_plan* e = p.find(o.experiment);
  if (!e) {
    std::string known;
    for (const auto& x : p.experiments) {
      known += (known.empty() ? "" : ", ") + x.cfg->name;
    }
    problem(0, "experiment `" + o.experiment +
                   "` is not configured (experiments: " + (known.empty() ? "none" : known) + ")");
    return ep;
  }
  ep.match_model = e->cfg->match_model;
  ep.match_header = e->cfg->match_header;
  ep.match_header_value = e->cfg->match_header_value;
  if (!e->cfg->match_endpoint.empty() && e->cfg->match_endpoint != "chat_completions") {
    problem(0, "experiment `" + o.experiment + "` matches " + e->cfg->match_endpoint +
                   "; evaluations send chat completions");
  }
  std::vector<const variant_plan*> chosen;
  if (o.variants.empty()) {
    for (const auto& v : e->variants) {
      chosen.push_back(&v);
    }
  }
  for (const auto& name : o.variants) {
    const auto it = std::find_if(e->variants.begin(), e->variants.end(),
                                 [&](const variant_plan& v) { return v.name == name; });
    if (it == e->variants.end()) {
      problem(0, "variants: experiment `" + o.experiment + "` has no variant `" + name +
                     "` (variants: " + names_of(*e) + ")");
    } else if (std::find(chosen.begin(), chosen.end(), &*it) == chosen.end()) {
      chosen.push_back(&*it);
    }
  }
  for (const auto* v : chosen) {
    const model_config* m = v->model ? v->model : p.cfg->find_model(ep.match_model);
    ep.variants.push_back({v->name, v->prompt ? v->prompt->ref : "", m ? m->name : ep.match_model});
    ep.prices.push_back(m ? m->price : price_config{});
  }
  for (const auto& c : cases) {
    std::set<std::string> reported;
    for (const auto* v : chosen) {
      if (!v->prompt) {
        if (!c.messages.is_array() && reported.insert("messages").second) {
          problem(c.line, "messages: variant `" + v->name +
                              "` has no prompt of its own, so the case needs messages");
        }
        continue;
      }
      for (const auto& var : v->prompt->tmpl.variables()) {
        if (!c.vars.contains(var) && !v->prompt->cfg->defaults.contains(var) &&
            reported.insert(var).second) {
          problem(c.line, "vars." + var + ": variant `" + v->name + "` (prompt " + v->prompt->ref +
                              ") needs this variable and the prompt has no "
                              "default for it");
        }
      }
    }
    for (std::size_t i = 0; i < c.asserts.size(); ++i) {
      const auto& a = c.asserts[i];
      if (a.kind != assertion_kind::similar && a.kind != assertion_kind::llm_rubric) {
        continue;
      }
      const bool emb = a.kind == assertion_kind::similar;
      const std::string model = !a.model.empty() ? a.model
                                : emb            ? ep.settings.embedding_model
                                                 : ep.settings.judge_model;
      const std::string at = "assert[" + std::to_string(i) + "]";
      if (model.empty()) {
        problem(c.line, at + ": " +
                            std::string(emb ? "similar needs an embedding model"
                                            : "llm-rubric needs a judge model") +
                            ": give the assertion a model, the run " +
                            (emb ? "--embedding-model (API: embedding_model)"
                                 : "--judge-model (API: judge_model)") +
                            ", or set " +
                            (emb ? "evaluations.embedding_model" : "evaluations.judge_model") +
                            " in the configuration");
      } else if (!a.model.empty() && !model_known(p, model)) {
        problem(c.line, at + ".model: no model `" + model + "` in the configuration");
      }
    }
  }
  return ep;
}

void run_eval(const eval_plan& ep, const std::vector<eval_case>& cases, const eval_target& target,
              eval_report& report, const eval_progress& progress, const std::atomic<bool>* cancel) {
  const eval_settings& o = ep.settings;
  report.experiment = ep.experiment;
  report.dataset = ep.dataset_name;
  report.min_pass_rate = o.min_pass_rate;
  report.judge_model = o.judge_model;
  report.embedding_model = o.embedding_model;
  if (!ep.variants.empty()) {
    run r(ep, cases, report, progress, cancel);  // outlives the coroutines' frames
    net::io_context io(1);
    const tcp::endpoint gateway(net::ip::make_address(target.host), target.port);
    const unsigned slots = std::clamp(o.concurrency, 1u, 64u);  // prepare_eval checked it
    for (unsigned i = 0; i < slots; ++i) {
      net::co_spawn(io, r.slot(gateway), [](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("evaluation request loop ended: {}", x.what());
          }
        }
      });
    }
    if (cancel) {
      net::co_spawn(io, r.watch(io), [](std::exception_ptr e) {
        if (e) {
          spdlog::error("evaluation watcher ended by an exception");
        }
      });
    }
    io.run();
    r.finish();
  }
  summarize(report, cases, ep.variants);
}

}  // namespace switchyard
