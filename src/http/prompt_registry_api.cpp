#include "switchyard/http/prompt_registry_api.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/prompt_registry.hpp"
#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/runtime/worker.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace {

namespace json = boost::json;

result<prompt_registry*> registry_of(const local_call& c) {
  if (c.w.shared.prompts == nullptr) {
    return make_error(errc::internal, "The prompt registry is not running.");
  }
  return c.w.shared.prompts;
}

result<json::value> body_json(const local_call& c) {
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  if (ec) {
    return make_error(errc::invalid_request, "The body is not valid JSON: " + ec.message());
  }
  return v;
}

}  // namespace

result<string_response> create_prompt_version(const local_call& c) {
  auto reg = registry_of(c);
  if (!reg) {
    return reg.error();
  }
  auto body = body_json(c);
  if (!body) {
    return body.error();
  }
  if (!body->is_object()) {
    return make_error(errc::invalid_request,
                      R"(The body must be an object like {"version": "v3", "template": "..."}.)");
  }
  auto spec = parse_version_spec(c.route.param("name"), body->as_object());
  if (!spec) {
    return spec.error();
  }
  auto made = (*reg)->create(*spec);
  if (!made) {
    return made.error();
  }
  const auto& [rec, fresh] = *made;
  return json_answer(c,
                     json::object{{"name", rec.name},
                                  {"version", rec.version},
                                  {"ref", rec.name + "@" + rec.version},
                                  {"hash", rec.hash},
                                  {"status", fresh ? "created" : "unchanged"}},
                     fresh ? http::status::created : http::status::ok);
}

result<string_response> delete_prompt(const local_call& c) {
  auto reg = registry_of(c);
  if (!reg) {
    return reg.error();
  }
  const std::string name = c.route.param("name");
  auto n = (*reg)->remove(name, "");
  if (!n) {
    return n.error();
  }
  return json_answer(c, json::object{{"name", name}, {"deleted_versions", *n}});
}

result<string_response> delete_prompt_version(const local_call& c) {
  auto reg = registry_of(c);
  if (!reg) {
    return reg.error();
  }
  const std::string name = c.route.param("name");
  const std::string version = c.route.param("version");
  auto n = (*reg)->remove(name, version);
  if (!n) {
    return n.error();
  }
  return json_answer(c,
                     json::object{{"name", name}, {"version", version}, {"deleted_versions", *n}});
}

result<string_response> export_prompts(const local_call& c) {
  const auto p = c.w.shared.snapshot->current();
  return json_answer(c, export_document(*p->cfg, unix_seconds()));
}

result<string_response> import_prompts(const local_call& c) {
  auto reg = registry_of(c);
  if (!reg) {
    return reg.error();
  }
  auto body = body_json(c);
  if (!body) {
    return body.error();
  }
  auto plan = (*reg)->import_document(*body);
  if (!plan) {
    return plan.error();
  }
  json::array imported;
  for (const auto& v : plan->to_write) {
    imported.emplace_back(v.name + "@" + v.version);
  }
  return json_answer(
      c, json::object{{"imported", std::move(imported)}, {"unchanged", plan->unchanged}});
}

}  // namespace switchyard
