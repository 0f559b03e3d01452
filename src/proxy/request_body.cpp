#include "switchyard/proxy/request_body.hpp"

#include "switchyard/core/json_text.hpp"
#include "switchyard/proxy/json_validate.hpp"

#include <array>

namespace switchyard {

std::string_view endpoint_path(endpoint e) noexcept {
  switch (e) {
    case endpoint::chat_completions:
      return "/chat/completions";
    case endpoint::completions:
      return "/completions";
    case endpoint::embeddings:
      return "/embeddings";
    case endpoint::responses:
      return "/responses";
    case endpoint::messages:
      return "/messages";
    case endpoint::count_tokens:
      return "/messages/count_tokens";
  }
  return "";
}

std::string_view endpoint_label(endpoint e) noexcept {
  switch (e) {
    case endpoint::chat_completions:
      return "chat_completions";
    case endpoint::completions:
      return "completions";
    case endpoint::embeddings:
      return "embeddings";
    case endpoint::responses:
      return "responses";
    case endpoint::messages:
      return "messages";
    case endpoint::count_tokens:
      return "count_tokens";
  }
  return "";
}

api_kind endpoint_api(endpoint e) noexcept {
  switch (e) {
    case endpoint::chat_completions:
      return api_kind::chat;
    case endpoint::completions:
      return api_kind::completions;
    case endpoint::embeddings:
      return api_kind::embeddings;
    case endpoint::responses:
      return api_kind::responses;
    case endpoint::messages:
    case endpoint::count_tokens:
      return api_kind::messages;
  }
  return api_kind::chat;
}

void pad_for_simdjson(std::string& body, std::size_t headroom) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING + headroom);
  }
}

namespace {

using simdjson::ondemand::json_type;

error invalid(std::string message, std::string param = {}) {
  return make_error(errc::invalid_request, std::move(message), std::move(param));
}

error unparsable() {
  return invalid(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
      "sent was not valid JSON.)");
}

std::string_view type_name(json_type t) {
  switch (t) {
    case json_type::array:
      return "an array";
    case json_type::object:
      return "an object";
    case json_type::number:
      return "a number";
    case json_type::string:
      return "a string";
    case json_type::boolean:
      return "a boolean";
    case json_type::null:
      return "null";
  }
  return "unknown";
}

// `stream`/`include_usage`: a boolean or null (null means the default, false).
result<bool> optional_bool(simdjson::ondemand::value v, std::string_view name) {
  json_type t{};
  if (v.type().get(t)) {
    return unparsable();
  }
  if (t == json_type::null) {
    return false;
  }
  bool b = false;
  if (t != json_type::boolean || v.get_bool().get(b)) {
    return invalid(std::string(name) + " must be a boolean, got " + std::string(type_name(t)),
                   std::string(name));
  }
  return b;
}

}  // namespace

namespace {

// The number of elements of `array` (member `name`), each of which must be an object (Anthropic's
// wording for one that is not).
result<std::size_t> count_objects(simdjson::ondemand::array& array, std::string_view name) {
  std::size_t count = 0;
  for (auto element : array) {
    json_type t{};
    if (element.type().get(t)) {
      return unparsable();
    }
    if (t != json_type::object) {
      const std::string at = std::string(name) + "." + std::to_string(count);
      return invalid(at + ": Input should be a valid dictionary, got " + std::string(type_name(t)),
                     at);
    }
    ++count;
  }
  return count;
}

// Messages bodies (Anthropic's API): the members the gateway reads or checks. `member` is the
// unescaped key; false when the member is not one the gateway reads (it goes out as sent).
result<bool> messages_member(std::string_view key, simdjson::ondemand::value value, json_type t,
                             const std::string& body, request_fields& out, bool& has_max_tokens,
                             bool& has_messages) {
  if (key == "max_tokens") {
    std::uint64_t v = 0;
    if (t != json_type::number || value.get_uint64().get(v)) {
      return invalid("max_tokens: Input should be a valid non-negative integer", "max_tokens");
    }
    out.max_tokens = v;
    has_max_tokens = true;
    return true;
  }
  if (key == "messages") {
    simdjson::ondemand::array messages;
    if (t != json_type::array || value.get_array().get(messages)) {
      return invalid("messages: Input should be a valid list, got " + std::string(type_name(t)),
                     "messages");
    }
    auto count = count_objects(messages, "messages");
    if (!count) {
      return count.error();
    }
    if (*count == 0) {
      return invalid("messages: at least one message is required", "messages");
    }
    has_messages = true;
    return true;
  }
  if (key == "system") {
    if (t == json_type::string) {
      out.system = request_fields::system_form::string;
      return true;
    }
    simdjson::ondemand::array blocks;
    if (t != json_type::array || value.get_array().get(blocks)) {
      return invalid("system: Input should be a valid string or a list of text blocks, got " +
                         std::string(type_name(t)),
                     "system");
    }
    if (auto count = count_objects(blocks, "system"); !count) {
      return count.error();
    }
    out.system = request_fields::system_form::blocks;
    return true;
  }
  if (key == "metadata" && t == json_type::object) {
    simdjson::ondemand::object meta;
    if (value.get_object().get(meta)) {
      return unparsable();
    }
    for (auto m : meta) {
      std::string_view mk;
      simdjson::ondemand::value mv;
      if (m.unescaped_key().get(mk) || m.value().get(mv)) {
        return unparsable();
      }
      json_type mvt{};
      if (mk == "user_id" && !mv.type().get(mvt) && mvt == json_type::string) {
        std::string_view raw = mv.raw_json_token();
        while (!raw.empty() && raw.back() != '"') {
          raw.remove_suffix(1);  // raw_json_token may carry trailing whitespace
        }
        if (raw.size() >= 2) {
          out.metadata_user = std::string_view(body).substr(
              static_cast<std::size_t>(raw.data() - body.data()) + 1, raw.size() - 2);
        }
      }
    }
    return true;
  }
  return false;
}

result<request_fields> parse_body(endpoint ep, simdjson::ondemand::parser& parser,
                                  const std::string& body, bool validate) {
  if (body.empty()) {
    return invalid("The request body is empty; send a JSON object.");
  }
  if (validate) {
    if (auto valid = validate_json_body(body); !valid) {
      return valid.error();
    }
  }
  simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  simdjson::ondemand::document doc;
  if (parser.iterate(view).get(doc)) {
    return unparsable();
  }
  json_type top{};
  if (doc.type().get(top)) {
    return unparsable();
  }
  simdjson::ondemand::object obj;
  if (top != json_type::object) {
    return invalid("The request body must be a JSON object.");
  }
  if (doc.get_object().get(obj)) {
    return unparsable();
  }
  request_fields out;
  bool has_model = false;
  bool has_payload = false;  // messages / prompt / input
  const bool anthropic = endpoint_api(ep) == api_kind::messages;
  bool has_max_tokens = false;  // Messages
  const std::string_view payload = ep == endpoint::chat_completions || anthropic ? "messages"
                                   : ep == endpoint::completions                ? "prompt"
                                                                                : "input";
  for (auto field : obj) {
    simdjson::ondemand::raw_json_string raw_key;
    if (field.key().get(raw_key)) {
      return unparsable();
    }
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      return unparsable();
    }
    simdjson::ondemand::value value;
    if (field.value().get(value)) {
      return unparsable();
    }
    json_type t{};
    if (value.type().get(t)) {
      return unparsable();
    }
    {
      // The raw key starts right after its opening quote and ends before the closing one.
      const char* k = raw_key.raw();
      std::string_view token = value.raw_json_token();
      const auto kb = static_cast<std::size_t>(k - body.data()) - 1;
      std::size_t ke = kb + 1;
      while (ke < body.size() && body[ke] != '"') {
        ke += body[ke] == '\\' ? 2u : 1u;  // skip escaped characters; bounded by the body
      }
      ke = std::min(ke, body.size());
      out.members.push_back({std::string_view(body).substr(kb + 1, ke - kb - 1), kb,
                             static_cast<std::size_t>(token.data() - body.data())});
    }
    if (anthropic && key != "model" && key != "stream") {
      // Anthropic's own members only: `n`, `stream_options`, `store`… are not part of its API
      // (the upstream refuses them, as Anthropic does).
      auto known = messages_member(key, value, t, body, out, has_max_tokens, has_payload);
      if (!known) {
        return known.error();
      }
      continue;
    }
    if (key == "model") {
      std::string_view raw;
      std::string_view text;
      if (t != json_type::string) {
        return invalid("model must be a string, got " + std::string(type_name(t)), "model");
      }
      raw = value.raw_json_token();
      while (!raw.empty() && raw.back() != '"') {
        raw.remove_suffix(1);  // raw_json_token may carry trailing whitespace
      }
      if (value.get_string().get(text)) {
        return unparsable();
      }
      out.model.assign(text);
      out.model_offset = static_cast<std::size_t>(raw.data() - body.data());
      out.model_length = raw.size();
      has_model = true;
    } else if (key == "stream") {
      auto b = optional_bool(value, "stream");
      if (!b) {
        return b.error();
      }
      out.stream = *b;
    } else if (ep == endpoint::responses && key == "max_output_tokens" &&
               t == json_type::number) {
      // Responses: the token reservation's output bound.
      std::uint64_t v = 0;
      if (!value.get_uint64().get(v)) {
        out.max_tokens = v;
      }
    } else if (ep != endpoint::responses &&
               (key == "max_tokens" || key == "max_completion_tokens" || key == "n") &&
               t == json_type::number) {
      // Read for token reservations only; the upstream validates them.
      std::uint64_t v = 0;
      if (!value.get_uint64().get(v)) {
        if (key == "n") {
          out.n = v;
        } else if (key == "max_completion_tokens" || !out.max_tokens) {
          out.max_tokens = v;
        }
      }
    } else if (key == "store" && t == json_type::boolean) {
      bool b = false;
      out.store = !value.get_bool().get(b) && b;
    } else if (key == "stream_options" && t == json_type::object) {
      out.has_stream_options = true;
      simdjson::ondemand::object options;
      if (value.get_object().get(options)) {
        return unparsable();
      }
      for (auto option : options) {
        std::string_view option_key;
        simdjson::ondemand::value option_value;
        if (option.unescaped_key().get(option_key) || option.value().get(option_value)) {
          return unparsable();
        }
        if (option_key == "include_usage") {
          auto b = optional_bool(option_value, "stream_options.include_usage");
          if (!b) {
            return b.error();
          }
          out.include_usage = *b;
        }
      }
    } else if (key == "stream_options" && t != json_type::null) {
      return invalid("stream_options must be an object", "stream_options");
    } else if (key == payload) {
      if (ep == endpoint::chat_completions) {
        simdjson::ondemand::array messages;
        if (t != json_type::array || value.get_array().get(messages)) {
          return invalid("messages must be an array, got " + std::string(type_name(t)), "messages");
        }
        std::size_t count = 0;
        for (auto message : messages) {
          json_type mt{};
          if (message.type().get(mt)) {
            return unparsable();
          }
          if (mt != json_type::object) {
            return invalid("messages[" + std::to_string(count) + "] must be an object, got " +
                               std::string(type_name(mt)),
                           "messages[" + std::to_string(count) + "]");
          }
          if (count < 2) {
            simdjson::ondemand::value m;
            if (message.get(m)) {
              return unparsable();
            }
            auto begin = static_cast<std::size_t>(m.raw_json_token().data() - body.data());
            (count == 0 ? out.first_message_begin : out.second_message_begin) = begin;
            if (count == 0) {
              std::string_view role;
              simdjson::ondemand::object mo;
              if (!m.get_object().get(mo) && !mo.find_field_unordered("role").get(role)) {
                out.first_message_system = role == "system" || role == "developer";
              }
            }
          }
          ++count;
        }
        if (count == 0) {
          return invalid("messages must contain at least one message", "messages");
        }
      } else if (t != json_type::string && t != json_type::array) {
        return invalid(std::string(payload) + " must be a string or an array, got " +
                           std::string(type_name(t)),
                       std::string(payload));
      } else if (ep == endpoint::completions && t == json_type::string) {
        std::string_view text;
        if (value.get_string().get(text)) {
          return unparsable();
        }
        out.prompt.assign(text);
        out.prompt_is_string = true;
      }
      has_payload = true;
    }
  }
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing)) {
    return unparsable();  // bytes after the object: there is a location still in bounds
  }
  {
    std::size_t end = body.size();
    while (end > 0 && body[end - 1] != '}') {
      --end;  // trailing whitespace only: the parser rejected anything else
    }
    out.object_end = end > 0 ? end - 1 : 0;
  }
  if (anthropic) {
    // Anthropic's wording (its validation names the field first).
    if (!has_model) {
      return invalid("model: Field required", "model");
    }
    if (!has_payload) {
      return invalid("messages: Field required", "messages");
    }
    if (ep == endpoint::messages && !has_max_tokens) {
      return invalid("max_tokens: Field required", "max_tokens");
    }
    return out;
  }
  if (!has_model) {
    return invalid("you must provide a model parameter", "model");
  }
  // Responses: `input` may be left out (a stored prompt, previous_response_id); the upstream,
  // or the translation, decides.
  if (!has_payload && ep != endpoint::responses) {
    return invalid("Missing required parameter: '" + std::string(payload) + "'.",
                   std::string(payload));
  }
  return out;
}

}  // namespace

result<request_fields> parse_request_body(endpoint ep, simdjson::ondemand::parser& parser,
                                          const std::string& body, bool validate) {
  auto out = parse_body(ep, parser, body, validate);
  if (!out && endpoint_api(ep) == api_kind::messages && out.error().message == unparsable().message) {
    // The OpenAI wording names the OpenAI API: an Anthropic client gets a neutral one.
    return invalid("There was an error parsing the body of your request: it is not valid JSON.");
  }
  return out;
}

const body_member* request_fields::find(std::string_view key) const noexcept {
  for (const auto& m : members) {
    if (m.key == key) {
      return &m;
    }
  }
  return nullptr;
}

std::size_t request_fields::member_end(std::string_view body, std::size_t i) const noexcept {
  // Between a value and what follows there is only whitespace and at most one comma.
  std::size_t end = i + 1 < members.size() ? members[i + 1].begin : object_end;
  auto ws = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
  while (end > members[i].value_begin && ws(body[end - 1])) {
    --end;
  }
  if (i + 1 < members.size() && end > members[i].value_begin && body[end - 1] == ',') {
    --end;
    while (end > members[i].value_begin && ws(body[end - 1])) {
      --end;
    }
  }
  return end;
}

std::string splice_model(std::string_view body, const request_fields& fields,
                         std::string_view model) {
  std::string out;
  out.reserve(body.size() + model.size() + 2);
  out.append(body.substr(0, fields.model_offset));
  out.push_back('"');
  append_json_escaped(out, model);
  out.push_back('"');
  out.append(body.substr(fields.model_offset + fields.model_length));
  return out;
}

}  // namespace switchyard
