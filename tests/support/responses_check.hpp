#pragma once

// Checks of translated Responses output against the shapes OpenAI's openapi.yaml requires
// (tests/fixtures/providers/responses/openapi_shapes.json, extracted by extract_openapi.py) and
// against the invariants the SDKs' stream accumulators enforce (openai-node
// src/internal/responses/response-accumulator.ts: items appended at output_index = count, unique
// ids and call_ids, item_id matching the item at output_index, content parts appended in
// order). Header-only, for the unit tests; needs SWITCHYARD_WIRE_FIXTURES.

#include "switchyard/sse/sse_parser.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

inline std::filesystem::path responses_fixtures() {
  return std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) / ".." / "providers" / "responses";
}

inline const boost::json::object& openapi_shapes() {
  static const boost::json::value v =
      boost::json::parse(read_file(responses_fixtures() / "openapi_shapes.json"));
  return v.as_object();
}

/// Every member the openapi schema `kind` (a key of openapi_shapes.json's "objects") requires.
inline void expect_required(const boost::json::object& o, std::string_view kind,
                            const std::string& where) {
  const auto& objects = openapi_shapes().at("objects").as_object();
  const auto* shape = objects.if_contains(kind);
  ASSERT_NE(shape, nullptr) << kind;
  for (const auto& key : shape->at("required").as_array()) {
    EXPECT_TRUE(o.contains(key.as_string())) << where << ": " << kind << " lacks " << key;
  }
}

/// An output item or content part, checked by its `type`.
inline void expect_typed(const boost::json::object& o, const std::string& where) {
  const auto* type = o.if_contains("type");
  ASSERT_TRUE(type != nullptr && type->is_string()) << where << ": no type";
  const std::string t(type->as_string());
  expect_required(o, t, where + "(" + t + ")");
  if (t == "message") {
    for (const auto& part : o.at("content").as_array()) {
      expect_typed(part.as_object(), where + ".content");
    }
  }
  if (t == "reasoning") {
    for (const auto& part : o.at("summary").as_array()) {
      expect_typed(part.as_object(), where + ".summary");
    }
  }
}

/// A whole Response object.
inline void expect_response_shape(const boost::json::object& r, const std::string& where) {
  expect_required(r, "response", where);
  EXPECT_EQ(r.at("object"), "response") << where;
  for (const auto& item : r.at("output").as_array()) {
    expect_typed(item.as_object(), where + ".output");
  }
  if (const auto* u = r.if_contains("usage"); u != nullptr && u->is_object()) {
    expect_required(u->as_object(), "usage", where + ".usage");
    expect_required(u->at("input_tokens_details").as_object(), "input_tokens_details", where);
    expect_required(u->at("output_tokens_details").as_object(), "output_tokens_details", where);
  }
  for (const auto& tool : r.at("tools").as_array()) {
    const auto& t = tool.as_object();
    expect_required(t, t.at("type") == "function" ? "function_tool" : "custom_tool", where);
  }
}

struct responses_event {
  std::string name;  // the `event:` line
  boost::json::object data;
};

/// Parses `sse` with the gateway's own SSE parser; every data must be a JSON object.
inline std::vector<responses_event> parse_events(std::string_view sse) {
  sse_parser parser(1 << 24);
  std::vector<sse_event> raw;
  EXPECT_TRUE(parser.feed(sse, raw).has_value());
  EXPECT_EQ(parser.pending_bytes(), 0u) << "a partial event at the end";
  std::vector<responses_event> out;
  for (auto& e : raw) {
    boost::system::error_code ec;
    auto v = boost::json::parse(e.data, ec);
    EXPECT_FALSE(ec) << e.data;
    if (ec || !v.is_object()) {
      continue;
    }
    out.push_back({e.event, std::move(v.as_object())});
  }
  return out;
}

/// Checks a whole translated stream and returns its events: named events equal to `type`,
/// sequence numbers 0, 1, 2…, created/in_progress first, exactly one terminal event last, one
/// response id, the openapi shapes, and the accumulator invariants; the terminal output equals
/// the items as their `output_item.done` left them, and the text deltas add up.
inline std::vector<responses_event> check_stream(std::string_view sse) {
  auto events = parse_events(sse);
  EXPECT_GE(events.size(), 3u);
  if (events.size() < 3) {
    return events;
  }
  const auto& shapes = openapi_shapes().at("events").as_object();
  std::string response_id;
  std::vector<boost::json::object> items;  // as added, then as done
  std::vector<bool> done;
  std::map<std::string, std::string> text;  // item_id/content_index → deltas
  std::set<std::string> ids, call_ids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i].data;
    const std::string where = "event " + std::to_string(i);
    const std::string type(e.at("type").as_string());
    EXPECT_EQ(events[i].name, type) << where;
    EXPECT_EQ(e.at("sequence_number").to_number<std::int64_t>(), static_cast<std::int64_t>(i))
        << where;
    const auto* shape = shapes.if_contains(type);
    EXPECT_NE(shape, nullptr) << where << ": unexpected event " << type;
    if (shape != nullptr) {
      for (const auto& key : shape->at("required").as_array()) {
        EXPECT_TRUE(e.contains(key.as_string())) << where << " " << type << " lacks " << key;
      }
    }
    const bool terminal =
        type == "response.completed" || type == "response.incomplete" || type == "response.failed";
    EXPECT_EQ(terminal, i + 1 == events.size()) << where << ": terminal event not last";
    if (i == 0) {
      EXPECT_EQ(type, "response.created");
    }
    if (i == 1) {
      EXPECT_EQ(type, "response.in_progress");
    }
    if (const auto* r = e.if_contains("response"); r != nullptr) {
      const auto& resp = r->as_object();
      expect_response_shape(resp, where);
      if (response_id.empty()) {
        response_id = std::string(resp.at("id").as_string());
      }
      EXPECT_EQ(resp.at("id").as_string(), response_id) << where;
    }
    if (const auto* item = e.if_contains("item"); item != nullptr) {
      expect_typed(item->as_object(), where + ".item");
    }
    if (const auto* part = e.if_contains("part"); part != nullptr) {
      expect_typed(part->as_object(), where + ".part");
    }
    if (type == "response.output_item.added") {
      EXPECT_EQ(e.at("output_index").to_number<std::size_t>(), items.size()) << where;
      const auto& item = e.at("item").as_object();
      EXPECT_TRUE(ids.insert(std::string(item.at("id").as_string())).second) << where;
      if (const auto* c = item.if_contains("call_id"); c != nullptr) {
        EXPECT_TRUE(call_ids.insert(std::string(c->as_string())).second) << where;
      }
      items.push_back(item);
      done.push_back(false);
      continue;
    }
    if (const auto* oi = e.if_contains("output_index"); oi != nullptr) {
      const auto index = oi->to_number<std::size_t>();
      EXPECT_LT(index, items.size()) << where;
      if (index >= items.size()) {
        continue;
      }
      EXPECT_FALSE(done[index]) << where << ": event after output_item.done";
      if (type == "response.output_item.done") {
        EXPECT_EQ(e.at("item").at("id"), items[index].at("id")) << where;
        items[index] = e.at("item").as_object();
        done[index] = true;
      } else {
        EXPECT_EQ(e.at("item_id"), items[index].at("id")) << where;
      }
      if (type == "response.output_text.delta" || type == "response.refusal.delta" ||
          type == "response.function_call_arguments.delta" ||
          type == "response.reasoning_summary_text.delta" ||
          type == "response.custom_tool_call_input.delta") {
        const auto* ci = e.if_contains("content_index");
        text[std::to_string(index) + "/" + (ci ? std::to_string(ci->to_number<int>()) : "-")] +=
            e.at("delta").as_string();
      }
      auto expect_text = [&](std::string_view member) {
        const auto* ci = e.if_contains("content_index");
        EXPECT_EQ(
            text[std::to_string(index) + "/" + (ci ? std::to_string(ci->to_number<int>()) : "-")],
            e.at(member).as_string())
            << where;
      };
      if (type == "response.output_text.done") {
        expect_text("text");
      } else if (type == "response.refusal.done") {
        expect_text("refusal");
      } else if (type == "response.function_call_arguments.done") {
        expect_text("arguments");
      } else if (type == "response.reasoning_summary_text.done") {
        expect_text("text");
      } else if (type == "response.custom_tool_call_input.done") {
        expect_text("input");
      }
    }
    if (terminal && type != "response.failed") {
      const auto& output = e.at("response").at("output").as_array();
      EXPECT_EQ(output.size(), items.size()) << where;
      for (std::size_t k = 0; k < output.size() && k < items.size(); ++k) {
        EXPECT_TRUE(done[k]) << where << ": item " << k << " not done";
        EXPECT_EQ(output[k].as_object(), items[k]) << where << ": output[" << k << "]";
      }
    }
  }
  return events;
}

/// The event types in order.
inline std::vector<std::string> types(const std::vector<responses_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.emplace_back(e.data.at("type").as_string());
  }
  return out;
}

}  // namespace switchyard::test
