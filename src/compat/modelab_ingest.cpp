#include "switchyard/compat/modelab_ingest.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>

namespace switchyard {

namespace {

namespace json = boost::json;

// One record under validation: its index and object, and the first problem found (kept so the
// batch's error names where it is).
class record_reader {
 public:
  record_reader(const json::object& o, std::size_t index, const modelab_ingest_limits& limits)
      : o_(o), index_(index), limits_(limits) {}

  bool ok() const noexcept { return problem_.empty(); }
  error failure() const {
    return make_error(errc::invalid_request,
                      "[" + std::to_string(index_) + "]." + field_ + ": " + problem_, field_);
  }

  // A string (or, for ids that SDK users pass as numbers, an integer written in decimal).
  std::string text(const char* name, bool required, bool integer_ok = false) {
    const auto* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) {
      if (required) {
        fail(name, "is required");
      }
      return {};
    }
    std::string out;
    if (v->is_string()) {
      out = std::string(v->as_string());
    } else if (integer_ok && (v->is_int64() || v->is_uint64())) {
      out = json::serialize(*v);
    } else {
      fail(name, integer_ok ? "must be a string or an integer" : "must be a string");
      return {};
    }
    if (required && out.empty()) {
      fail(name, "must not be empty");
    } else if (out.size() > limits_.max_string_bytes) {
      fail(name, "is longer than " + std::to_string(limits_.max_string_bytes) +
                     " bytes (compat.modelab.max_string_bytes)");
    }
    return out;
  }

  // A JSON field the SDK fills with json.dumps() text, or that a client may send as a value:
  // stored as JSON text either way ("" when absent or null).
  std::string json_text(const char* name) {
    const auto* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) {
      return {};
    }
    std::string out = v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
    if (out.size() > limits_.max_string_bytes) {
      fail(name, "is longer than " + std::to_string(limits_.max_string_bytes) +
                     " bytes (compat.modelab.max_string_bytes)");
    }
    return out;
  }

  std::optional<double> number(const char* name) {
    const auto* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) {
      return std::nullopt;
    }
    if (!v->is_number()) {
      fail(name, "must be a number or null");
      return std::nullopt;
    }
    const double d = v->to_number<double>();
    if (!std::isfinite(d) || d < 0) {
      fail(name, "must be a finite number ≥ 0");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::int64_t> count(const char* name) {
    const auto* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) {
      return std::nullopt;
    }
    constexpr std::int64_t max = std::int64_t{1} << 40;  // far beyond any call's tokens
    std::int64_t n = -1;
    if (v->is_int64()) {
      n = v->as_int64();
    } else if (v->is_uint64()) {
      n = v->as_uint64() <= static_cast<std::uint64_t>(max)
              ? static_cast<std::int64_t>(v->as_uint64())
              : -1;
    } else if (v->is_double() && v->as_double() == std::floor(v->as_double()) &&
               v->as_double() >= 0 && v->as_double() <= static_cast<double>(max)) {
      n = static_cast<std::int64_t>(v->as_double());  // 12.0 from a client that used floats
    }
    if (n < 0 || n > max) {
      fail(name, "must be an integer ≥ 0 or null");
      return std::nullopt;
    }
    return n;
  }

  // A timestamp: absent → now; present → must parse.
  std::int64_t time(const char* name, const std::string& text_value, std::int64_t now) {
    if (text_value.empty()) {
      return now;
    }
    auto t = parse_iso8601(text_value);
    if (!t) {
      fail(name, "must be an ISO 8601 timestamp such as 2024-05-01T13:00:00.123456+00:00");
      return now;
    }
    return *t;
  }

  void fail(const char* name, std::string problem) {
    if (problem_.empty()) {
      field_ = name;
      problem_ = std::move(problem);
    }
  }

 private:
  const json::object& o_;
  std::size_t index_;
  const modelab_ingest_limits& limits_;
  std::string field_, problem_;
};

void append_field(std::string& key, std::string_view v) {
  key += v;
  key += '\x1f';  // a separator no JSON-decoded field is taken to contain unescaped
}

void append_number(std::string& key, std::optional<double> v) {
  if (!v) {
    append_field(key, "null");
    return;
  }
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, *v).ptr;  // shortest round-trip form
  append_field(key, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

std::optional<double> as_double(std::optional<std::int64_t> v) {
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

result<void> read_record(modelab_kind kind, const json::object& o, std::size_t i,
                         const modelab_ingest_limits& limits, std::int64_t now,
                         modelab_batch& out) {
  record_reader r(o, i, limits);
  switch (kind) {
    case modelab_kind::assignments: {
      modelab_assignment a;
      a.assignment_id = r.text("assignment_id", true);
      a.flag_name = r.text("flag_name", true);
      a.variant_name = r.text("variant_name", true);
      a.user_id = r.text("user_id", true, true);
      a.session_id = r.text("session_id", false, true);
      a.config_json = r.json_text("config_json");
      a.assigned_at = r.text("assigned_at", false);
      a.assigned_unix = r.time("assigned_at", a.assigned_at, now);
      out.assignments.push_back(std::move(a));
      break;
    }
    case modelab_kind::executions: {
      modelab_execution e;
      e.assignment_id = r.text("assignment_id", true);
      e.latency_ms = r.number("latency_ms");
      e.input_tokens = r.count("input_tokens");
      e.output_tokens = r.count("output_tokens");
      e.cost = r.number("cost");
      e.error = r.text("error", false);
      e.metadata_json = r.json_text("metadata_json");
      e.recorded_at = r.text("recorded_at", false);
      e.recorded_unix = r.time("recorded_at", e.recorded_at, now);
      // The identity of an execution: every field it was sent with (received-time defaults left
      // out, so a retry of a record without recorded_at still matches).
      for (const auto* f : {&e.assignment_id, &e.recorded_at, &e.error, &e.metadata_json}) {
        append_field(e.key, *f);
      }
      append_number(e.key, e.latency_ms);
      append_number(e.key, as_double(e.input_tokens));
      append_number(e.key, as_double(e.output_tokens));
      append_number(e.key, e.cost);
      out.executions.push_back(std::move(e));
      break;
    }
    case modelab_kind::events: {
      modelab_event e;
      e.event_id = r.text("event_id", true);
      e.assignment_id = r.text("assignment_id", true);
      e.event_type = r.text("event_type", true);
      if (r.ok() && e.event_type != "success" && e.event_type != "failure" &&
          e.event_type != "custom") {
        r.fail("event_type", "must be success, failure or custom");
      }
      e.event_name = r.text("event_name", false);
      e.payload_json = r.json_text("payload_json");
      e.created_at = r.text("created_at", false);
      e.created_unix = r.time("created_at", e.created_at, now);
      out.events.push_back(std::move(e));
      break;
    }
  }
  if (!r.ok()) {
    return r.failure();
  }
  return {};
}

const char* kind_name(modelab_kind k) {
  switch (k) {
    case modelab_kind::assignments:
      return "assignment";
    case modelab_kind::executions:
      return "execution";
    case modelab_kind::events:
      return "event";
  }
  return "record";
}

}  // namespace

result<modelab_batch> parse_modelab_batch(modelab_kind kind, std::string_view body,
                                          const modelab_ingest_limits& limits,
                                          std::int64_t now_unix) {
  json::error_code ec;
  json::parse_options opt;
  opt.max_depth = 64;  // records are flat; nested metadata deeper than this is refused
  const json::value v = json::parse(body, ec, {}, opt);
  if (ec) {
    return make_error(errc::invalid_request, "The body is not valid JSON (" + ec.message() +
                                                 "); send a JSON array of " + kind_name(kind) +
                                                 " records.");
  }
  if (!v.is_array()) {
    return make_error(errc::invalid_request, std::string("The body must be a JSON array of ") +
                                                 kind_name(kind) + " records, not a single value.");
  }
  const auto& list = v.as_array();
  if (list.size() > limits.max_records) {
    return make_error(errc::body_too_large,
                      "The batch has " + std::to_string(list.size()) + " records; at most " +
                          std::to_string(limits.max_records) +
                          " are accepted per request (compat.modelab.max_batch_records). Send "
                          "smaller batches.");
  }
  modelab_batch out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) {
      return make_error(errc::invalid_request,
                        "[" + std::to_string(i) + "]: each record must be a JSON object");
    }
    if (auto r = read_record(kind, list[i].as_object(), i, limits, now_unix, out); !r) {
      return r.error();
    }
  }
  return out;
}

namespace {

// Reads exactly `n` digits at `s[i]`; advances `i`.
std::optional<int> digits(std::string_view s, std::size_t& i, std::size_t n) {
  if (s.size() - i < n) {
    return std::nullopt;
  }
  int v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const char c = s[i + k];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  i += n;
  return v;
}

bool take(std::string_view s, std::size_t& i, char c) {
  if (i < s.size() && s[i] == c) {
    ++i;
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
  std::size_t i = 0;
  const auto y = digits(s, i, 4);
  if (!y || !take(s, i, '-')) {
    return std::nullopt;
  }
  const auto mo = digits(s, i, 2);
  if (!mo || !take(s, i, '-')) {
    return std::nullopt;
  }
  const auto d = digits(s, i, 2);
  if (!d || !(take(s, i, 'T') || take(s, i, ' ') || take(s, i, 't'))) {
    return std::nullopt;
  }
  const auto h = digits(s, i, 2);
  if (!h || !take(s, i, ':')) {
    return std::nullopt;
  }
  const auto mi = digits(s, i, 2);
  int sec = 0;
  if (!mi) {
    return std::nullopt;
  }
  if (take(s, i, ':')) {
    const auto ss = digits(s, i, 2);
    if (!ss) {
      return std::nullopt;
    }
    sec = *ss;
    if (take(s, i, '.')) {
      std::size_t n = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 9) {
        ++i, ++n;
      }
      if (n == 0) {
        return std::nullopt;
      }
    }
  }
  int offset_minutes = 0;
  if (take(s, i, 'Z') || take(s, i, 'z')) {
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '-' ? -1 : 1;
    ++i;
    const auto oh = digits(s, i, 2);
    take(s, i, ':');
    const auto om = digits(s, i, 2);
    if (!oh || !om || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (*oh * 60 + *om);
  }
  if (i != s.size() || *mo < 1 || *mo > 12 || *h > 23 || *mi > 59 || sec > 60) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)},
                           day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  const auto days = sys_days(ymd).time_since_epoch().count();
  return static_cast<std::int64_t>(days) * 86400 + *h * 3600 + *mi * 60 + sec - offset_minutes * 60;
}

}  // namespace switchyard
