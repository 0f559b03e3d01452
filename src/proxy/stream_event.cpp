#include "switchyard/proxy/stream_event.hpp"

namespace switchyard {

namespace {

namespace od = simdjson::ondemand;
using od::json_type;

static_assert(simdjson::SIMDJSON_PADDING <= 64, "sse_event::padding must cover simdjson's");

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// A value that counts as output when present: a non-empty string or array, or any object.
// Null, "", [] and {} do not (a role chunk sends `"content": ""`, some servers `null`).
bool non_empty(od::value v) {
  json_type t{};
  if (v.type().get(t)) {
    return false;
  }
  switch (t) {
    case json_type::string: {
      std::string_view s;
      return !v.get_string().get(s) && !s.empty();
    }
    case json_type::array: {
      od::array a;
      std::size_t n = 0;
      return !v.get_array().get(a) && !a.count_elements().get(n) && n > 0;
    }
    case json_type::object: {
      od::object o;
      bool empty = true;
      return !v.get_object().get(o) && !o.is_empty().get(empty) && !empty;
    }
    case json_type::null:
      return false;
    default:
      return true;  // a number or boolean where text was expected: something, so show it
  }
}

// A `delta` (stream) or `message` (non-stream) object.
bool message_has_output(od::object msg) {
  for (auto field : msg) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return false;
    }
    if (key == "content" || key == "text" || key == "reasoning_content" || key == "reasoning" ||
        key == "refusal" || key == "tool_calls" || key == "function_call" || key == "audio") {
      if (non_empty(v)) {
        return true;
      }
    }
  }
  return false;
}

bool choice_has_output(od::object choice) {
  bool output = false;
  for (auto field : choice) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return output;
    }
    if (key == "delta" || key == "message") {
      od::object msg;
      if (!v.get_object().get(msg)) {
        output = message_has_output(msg) || output;
      }
    } else if (key == "text") {  // completions
      output = non_empty(v) || output;
    } else if (key == "finish_reason") {
      bool null = true;
      output = (!v.is_null().get(null) && !null) || output;
    }
  }
  return output;
}

void read_choices(od::value v, event_facts& f) {
  od::array arr;
  if (v.get_array().get(arr)) {
    return;
  }
  f.choices = true;
  for (auto element : arr) {
    od::object choice;
    if (element.get_object().get(choice)) {
      continue;
    }
    ++f.choice_count;
    f.output = choice_has_output(choice) || f.output;
  }
}

void read_error(od::value v, event_facts& f) {
  json_type t{};
  if (v.type().get(t) || t == json_type::null) {
    return;
  }
  f.error = true;
  od::object err;
  if (t != json_type::object || v.get_object().get(err)) {
    return;
  }
  for (auto field : err) {
    std::string_view key;
    od::value val;
    if (field.unescaped_key().get(key) || field.value().get(val)) {
      return;
    }
    std::string_view s;
    if ((key == "code" || key == "type") && !val.get_string().get(s) && s == "insufficient_quota") {
      f.insufficient_quota = true;
    }
  }
}

// The range that removes the member whose key starts at `key_begin` (its opening quote) and
// whose value ends at `value_end`, with the comma before it (or after it, for the first one).
// Between two members there is only whitespace and one comma, so scanning it is safe.
std::pair<std::size_t, std::size_t> member_range(std::string_view json, std::size_t key_begin,
                                                 std::size_t value_end) {
  std::size_t b = key_begin;
  while (b > 0 && is_space(json[b - 1])) {
    --b;
  }
  if (b > 0 && json[b - 1] == ',') {
    return {b - 1, value_end};
  }
  std::size_t e = value_end;
  while (e < json.size() && is_space(json[e])) {
    ++e;
  }
  if (e < json.size() && json[e] == ',') {
    ++e;
    while (e < json.size() && is_space(json[e])) {
      ++e;
    }
    return {key_begin, e};
  }
  return {key_begin, value_end};  // the only member
}

}  // namespace

token_usage read_usage(od::object& usage) {
  token_usage u;
  // Chat's names; the Responses API's (input_tokens, output_tokens) when those are absent.
  std::optional<std::int64_t> prompt, completion, input, output, total;
  for (auto field : usage) {
    std::string_view key;
    std::int64_t n = 0;
    if (field.unescaped_key().get(key)) {
      break;
    }
    if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      od::object details;
      if (field.value().get_object().get(details)) {
        continue;
      }
      for (auto d : details) {
        std::string_view dk;
        if (!d.unescaped_key().get(dk) && dk == "cached_tokens" && !d.value().get_int64().get(n)) {
          u.cache_read_tokens = n;
        }
      }
      continue;
    }
    std::optional<std::int64_t>* slot = key == "prompt_tokens"       ? &prompt
                                        : key == "completion_tokens" ? &completion
                                        : key == "input_tokens"      ? &input
                                        : key == "output_tokens"     ? &output
                                        : key == "total_tokens"      ? &total
                                                                     : nullptr;
    if (!slot || field.value().get_int64().get(n)) {
      continue;
    }
    *slot = n;
  }
  u.prompt_tokens = prompt.value_or(input.value_or(0));
  u.completion_tokens = completion.value_or(output.value_or(0));
  u.total_tokens = total.value_or(0);
  if (u.total_tokens == 0) {
    u.total_tokens = u.prompt_tokens + u.completion_tokens;
  }
  return u;
}

event_facts classify_event(od::parser& parser, simdjson::padded_string_view json) {
  event_facts f;
  od::document doc;
  od::object top;
  if (parser.iterate(json).get(doc) || doc.get_object().get(top)) {
    return f;
  }
  const std::string_view text(json.data(), json.size());
  std::optional<token_usage> groq;
  bool usage_object = false;
  for (auto field : top) {
    od::raw_json_string raw_key;
    std::string_view key;
    od::value v;
    if (field.key().get(raw_key) || field.unescaped_key().get(key) || field.value().get(v)) {
      return event_facts{};  // malformed past this point: unclassifiable
    }
    if (key == "choices") {
      read_choices(v, f);
    } else if (key == "usage") {
      json_type t{};
      if (v.type().get(t)) {
        return event_facts{};
      }
      if (t == json_type::object) {
        od::object u;
        if (!v.get_object().get(u)) {
          f.usage = read_usage(u);
          usage_object = true;
        }
      } else if (t == json_type::null) {
        const auto key_begin = static_cast<std::size_t>(raw_key.raw() - text.data()) - 1;
        const auto value_begin = static_cast<std::size_t>(v.raw_json_token().data() - text.data());
        bool null = false;
        const auto after = value_begin + 4;
        // On-Demand does not validate atoms it is not asked to read: check this one is `null`.
        if (v.is_null().get(null) || !null || text.substr(value_begin, 4) != "null" ||
            (after < text.size() && !is_space(text[after]) && text[after] != ',' &&
             text[after] != '}')) {
          return event_facts{};
        }
        f.null_usage.push_back(member_range(text, key_begin, after));
      }
    } else if (key == "x_groq") {
      od::object xg;
      od::object u;
      if (!v.get_object().get(xg) && !xg.find_field_unordered("usage").get_object().get(u)) {
        groq = read_usage(u);
      }
    } else if (key == "error") {
      read_error(v, f);
    }
  }
  if (!doc.is_alive() || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return event_facts{};  // a parse error on the way, or bytes after the object
  }
  f.object = true;
  if (!f.usage) {
    f.usage = groq;
  }
  f.usage_only = usage_object && f.choices && f.choice_count == 0 && !f.output;
  return f;
}

bool says_insufficient_quota(od::parser& parser, std::string_view body) {
  simdjson::padded_string padded(body);
  return classify_event(parser, padded).insufficient_quota;
}

bool may_mention_usage(std::string_view json) noexcept {
  return json.find("usage") != std::string_view::npos || json.find("\\u") != std::string_view::npos;
}

bool may_count_tokens(std::string_view json) noexcept {
  return json.find("_tokens") != std::string_view::npos ||
         json.find("\\u") != std::string_view::npos;
}

std::string without_null_usage(std::string_view json, const event_facts& facts) {
  std::string out;
  without_null_usage(json, facts, out);
  return out;
}

void without_null_usage(std::string_view json, const event_facts& facts, std::string& out) {
  out.clear();
  out.reserve(json.size());
  std::size_t at = 0;
  for (const auto& [b, e] : facts.null_usage) {
    if (b < at || e > json.size()) {
      continue;  // overlapping duplicates: the first cut already covers it
    }
    out.append(json.substr(at, b - at));
    at = e;
  }
  out.append(json.substr(at));
}

}  // namespace switchyard
