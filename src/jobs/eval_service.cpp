#include "switchyard/jobs/eval_service.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/core/random.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <filesystem>

namespace switchyard {

namespace json = boost::json;

std::string new_eval_id() {
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "eval_";
  std::uint64_t a = random_u64(), b = random_u64();
  for (int i = 0; i < 16; ++i) {
    id.push_back(hex[(a >> (4 * i)) & 15]);
  }
  for (int i = 0; i < 8; ++i) {
    id.push_back(hex[(b >> (4 * i)) & 15]);
  }
  return id;
}

result<std::unique_ptr<eval_service>> eval_service::open(const std::string& data_dir,
                                                         const config_snapshot& snapshot) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);  // an error shows in the open below
  auto store = eval_store::open((std::filesystem::path(data_dir) / "evals.db").string());
  if (!store) {
    return store.error();
  }
  return std::unique_ptr<eval_service>(new eval_service(std::move(*store), snapshot));
}

eval_service::~eval_service() {
  stop();
}

void eval_service::set_target(eval_target t) {
  std::lock_guard lock(mu_);
  target_ = std::move(t);
}

void eval_service::reap() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->finished.load()) {
      if (it->second->thread.joinable()) {
        it->second->thread.join();
      }
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

result<std::string> eval_service::start(eval_options o, std::vector<eval_case> cases) {
  auto p = snapshot_.current();
  auto ep = prepare_eval(*p, o, cases);
  if (!ep.problems.empty()) {
    std::string msg = "The evaluation cannot run:\n" + describe_problems(ep.problems);
    msg.pop_back();
    return make_error(errc::invalid_request, std::move(msg), "dataset");
  }
  const std::size_t max_running = p->cfg->evaluations.max_running;
  std::lock_guard lock(mu_);
  reap();
  if (jobs_.size() >= max_running) {
    return make_error(errc::overloaded, std::to_string(max_running) +
                                            " evaluations are running already "
                                            "(evaluations.max_running); retry when one has "
                                            "finished.");
  }
  if (target_.port == 0) {
    return make_error(errc::unavailable, "The gateway is not listening yet; retry.");
  }
  auto j = std::make_unique<job>();
  j->id = new_eval_id();
  j->experiment = o.experiment;
  j->dataset = o.dataset_name;
  j->judge_model = ep.settings.judge_model;
  j->embedding_model = ep.settings.embedding_model;
  j->created_at = unix_seconds();
  j->total = cases.size() * ep.variants.size();
  job* raw = j.get();
  const std::string id = j->id;
  // The job owns everything it reads (`ep` holds copies): a reload meanwhile does not change it.
  j->thread = std::thread(
      [this, raw, ep = std::move(ep), cases = std::move(cases), target = target_]() mutable {
        eval_report report;
        report.id = raw->id;
        report.created_at = raw->created_at;
        run_eval(
            ep, cases, target, report,
            [raw](std::size_t done, std::size_t) { raw->done.store(done); }, &cancel_);
        report.status = cancel_.load() ? "cancelled" : "completed";
        report.finished_at = unix_seconds();
        if (auto saved = save(report); !saved) {
          spdlog::error("evaluation {}: not stored: {}", report.id, saved.error().message);
        } else {
          spdlog::info("evaluation {} of {}: {} cases × {} variants done", report.id,
                       report.experiment, cases.size(), ep.variants.size());
        }
        raw->finished.store(true);
      });
  jobs_.emplace(id, std::move(j));
  return id;
}

result<void> eval_service::save(const eval_report& r) {
  return store_->save(r, static_cast<std::size_t>(snapshot_.current()->cfg->evaluations.keep));
}

json::value eval_service::running_json(const job& j) const {
  return json::object{
      {"id", j.id},
      {"experiment", j.experiment},
      {"dataset", j.dataset},
      {"status", "running"},
      {"created_at", j.created_at},
      {"judge_model", j.judge_model.empty() ? json::value(nullptr) : json::value(j.judge_model)},
      {"embedding_model",
       j.embedding_model.empty() ? json::value(nullptr) : json::value(j.embedding_model)},
      {"progress", json::object{{"done", j.done.load()}, {"total", j.total.load()}}}};
}

result<std::optional<json::value>> eval_service::status(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end() && !it->second->finished.load()) {
      return std::optional<json::value>(running_json(*it->second));
    }
  }
  return store_->get(id);
}

result<json::value> eval_service::list(const std::string& experiment, std::size_t limit) {
  json::array out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, j] : jobs_) {
      if (!j->finished.load() && (experiment.empty() || j->experiment == experiment)) {
        out.push_back(running_json(*j));
      }
    }
  }
  auto stored = store_->list(experiment, limit);
  if (!stored) {
    return stored.error();
  }
  for (auto& v : *stored) {
    out.push_back(std::move(v));
  }
  return json::value(std::move(out));
}

void eval_service::stop() {
  cancel_.store(true);
  std::map<std::string, std::unique_ptr<job>> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& [id, j] : jobs) {
    if (j->thread.joinable()) {
      j->thread.join();
    }
  }
}

}  // namespace switchyard
