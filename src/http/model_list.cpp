#include "switchyard/http/model_list.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace switchyard {

namespace {

boost::json::object model_object(std::string_view id) {
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "switchyard"}};
}

}  // namespace

std::vector<std::string_view> served_models(const hot_config& cfg) {
  std::vector<std::string_view> out;
  out.reserve(cfg.models.size() + cfg.experiments.size());
  auto add = [&](std::string_view name) {
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
  };
  for (const auto& m : cfg.models) {
    add(m.name);
  }
  for (const auto& e : cfg.experiments) {
    add(e.match_model);  // a name that exists only through its experiment(s)
  }
  return out;
}

bool serves_model(const hot_config& cfg, std::string_view id) {
  const auto ids = served_models(cfg);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string model_object_json(std::string_view id) {
  return boost::json::serialize(model_object(id));
}

std::string model_list_json(const hot_config& cfg) {
  boost::json::array data;
  for (auto id : served_models(cfg)) {
    data.push_back(model_object(id));
  }
  return boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace switchyard
