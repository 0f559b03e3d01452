#include "switchyard/http/model_list.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace switchyard {

namespace {

boost::json::object model_object(std::string_view id) {
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "switchyard"}};
}

boost::json::object anthropic_model_object(std::string_view id) {
  return {{"type", "model"},
          {"id", id},
          {"display_name", id},
          {"created_at", "1970-01-01T00:00:00Z"},
          {"capabilities", nullptr},
          {"deprecated_at", nullptr},
          {"lifecycle", "active"},
          {"line", nullptr},
          {"max_input_tokens", nullptr},
          {"max_tokens", nullptr},
          {"retires_at", nullptr}};
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

std::string anthropic_model_object_json(std::string_view id) {
  return boost::json::serialize(anthropic_model_object(id));
}

std::string anthropic_model_list_json(const hot_config& cfg) {
  boost::json::array data;
  const auto ids = served_models(cfg);
  for (auto id : ids) {
    data.push_back(anthropic_model_object(id));
  }
  boost::json::value first = nullptr;
  boost::json::value last = nullptr;
  if (!ids.empty()) {
    first = ids.front();
    last = ids.back();
  }
  return boost::json::serialize(boost::json::object{
      {"data", std::move(data)}, {"has_more", false}, {"first_id", first}, {"last_id", last}});
}

}  // namespace switchyard
