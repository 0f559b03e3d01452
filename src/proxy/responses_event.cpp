#include "switchyard/proxy/responses_event.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace od = simdjson::ondemand;

namespace {

bool holdable_type(std::string_view t) noexcept {
  return t == "response.created" || t == "response.in_progress" || t == "response.queued";
}

bool terminal_type(std::string_view t) noexcept {
  return t == "response.completed" || t == "response.incomplete" || t == "response.failed";
}

// `response`: its id, model, creation time and usage (kept for terminal events only).
void read_response(od::object& r, responses_event_facts& out) {
  for (auto field : r) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      return;
    }
    od::value v;
    if (field.value().get(v)) {
      return;
    }
    if (key == "id") {
      std::string_view id;
      if (!v.get_string().get(id)) {
        out.response_id.assign(id);
      }
    } else if (key == "model") {
      std::string_view m;
      if (!v.get_string().get(m)) {
        out.model.assign(m);
      }
    } else if (key == "created_at") {
      std::int64_t n = 0;
      if (!v.get_int64().get(n)) {
        out.created_at = n;
      }
    } else if (key == "usage") {
      od::object u;
      if (!v.get_object().get(u)) {
        out.facts.usage = read_usage(u);
      }
    }
  }
}

}  // namespace

responses_event_facts classify_responses_event(od::parser& parser,
                                               simdjson::padded_string_view json) {
  responses_event_facts out;
  od::document doc;
  od::object top;
  if (parser.iterate(json).get(doc) || doc.get_object().get(top)) {
    return out;
  }
  // `type` comes first in every event OpenAI sends, but order is not guaranteed: read the
  // members in one pass and classify at the end; `response` is read when met (a second pass
  // over On-Demand values is not possible), so its usage is kept only for terminal types.
  std::string type;
  bool response_seen = false;
  for (auto field : top) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return responses_event_facts{};
    }
    if (key == "type") {
      std::string_view t;
      if (v.get_string().get(t)) {
        return responses_event_facts{};
      }
      type.assign(t);
    } else if (key == "sequence_number") {
      std::uint64_t n = 0;
      if (!v.get_uint64().get(n)) {
        out.sequence_number = n;
      }
    } else if (key == "response") {
      od::object r;
      if (!v.get_object().get(r)) {
        // Usage only counts in a terminal event; the type may come after `response`, so read
        // it here and drop it below when the type says otherwise.
        read_response(r, out);
        response_seen = true;
      }
    }
  }
  out.facts.object = true;
  out.terminal = terminal_type(type);
  if (!out.terminal) {
    out.facts.usage.reset();
  }
  if (!response_seen || !(out.terminal || holdable_type(type))) {
    out.response_id.clear();
    out.model.clear();
    out.created_at = 0;
  }
  out.facts.holdable = holdable_type(type);
  out.facts.error = type == "error" || type == "response.failed";
  out.facts.output = !out.facts.holdable && !out.facts.error && type.starts_with("response.");
  return out;
}

std::string responses_failure_events(const responses_stream_identity& who,
                                     std::uint64_t next_sequence, const error& e) {
  namespace json = boost::json;
  const std::string_view code =
      e.code == errc::rate_limited ? "rate_limit_exceeded" : "server_error";
  json::object err{{"type", "error"},
                   {"sequence_number", next_sequence},
                   {"code", code},
                   {"message", e.message},
                   {"param", nullptr},
                   {"error",
                    {{"type", code}, {"code", code}, {"message", e.message}, {"param", nullptr}}}};
  json::object response{{"id", who.response_id},
                        {"object", "response"},
                        {"created_at", who.created_at},
                        {"status", "failed"},
                        {"background", false},
                        {"completed_at", nullptr},
                        {"error", {{"code", code}, {"message", e.message}}},
                        {"incomplete_details", nullptr},
                        {"model", who.model},
                        {"output", json::array{}},
                        {"instructions", nullptr},
                        {"parallel_tool_calls", true},
                        {"temperature", nullptr},
                        {"tool_choice", "auto"},
                        {"tools", json::array{}},
                        {"top_p", nullptr},
                        {"metadata", json::object{}}};
  json::object failed{{"type", "response.failed"},
                      {"sequence_number", next_sequence + 1},
                      {"response", std::move(response)}};
  std::string out = "event: error\ndata: ";
  out += json::serialize(err);
  out += "\n\nevent: response.failed\ndata: ";
  out += json::serialize(failed);
  out += "\n\n";
  return out;
}

}  // namespace switchyard
