#pragma once

#include "switchyard/config/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// The model ids clients may ask for, in the order `GET /v1/models` lists them: the `models:`
/// entries, then the names that exist only as an experiment's `match.model`; each once. The one
/// source for the list and for `GET /v1/models/{id}`. Pure; views into `cfg`.
std::vector<std::string_view> served_models(const hot_config& cfg);

/// Whether `id` is one of `served_models(cfg)`.
bool serves_model(const hot_config& cfg, std::string_view id);

/// The OpenAI model object for `id`: {"id","object":"model","created":0,"owned_by":"switchyard"}.
std::string model_object_json(std::string_view id);

/// The OpenAI list of every served model: {"object":"list","data":[model objects]}.
std::string model_list_json(const hot_config& cfg);

/// Anthropic's model object for `id` (Models API `ModelInfo`, as @anthropic-ai/sdk 1.15 types
/// it): {"type":"model","id","display_name":id,"created_at":"1970-01-01T00:00:00Z" (the epoch:
/// the gateway does not know release dates, which the API allows), and the nullable members
/// null; "lifecycle":"active"}.
std::string anthropic_model_object_json(std::string_view id);

/// Anthropic's list page of every served model: {"data":[…],"has_more":false,"first_id",
/// "last_id"} (ids null when there is none).
std::string anthropic_model_list_json(const hot_config& cfg);

}  // namespace switchyard
