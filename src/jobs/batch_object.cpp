#include "switchyard/jobs/batch_object.hpp"

#include <boost/json.hpp>

#include <array>

namespace switchyard {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 8> names = {"validating", "failed",    "in_progress",
                                                   "finalizing", "completed", "expired",
                                                   "cancelling", "cancelled"};

json::value opt(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value opt_text(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

}  // namespace

std::string_view to_string(batch_status s) noexcept {
  return names[static_cast<std::size_t>(s)];
}

std::optional<batch_status> parse_batch_status(std::string_view s) noexcept {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == s) {
      return static_cast<batch_status>(i);
    }
  }
  return std::nullopt;
}

bool is_terminal(batch_status s) noexcept {
  return s == batch_status::completed || s == batch_status::failed || s == batch_status::expired ||
         s == batch_status::cancelled;
}

const char* status_timestamp_name(batch_status s) noexcept {
  switch (s) {
    case batch_status::in_progress:
      return "in_progress_at";
    case batch_status::finalizing:
      return "finalizing_at";
    case batch_status::completed:
      return "completed_at";
    case batch_status::failed:
      return "failed_at";
    case batch_status::expired:
      return "expired_at";
    case batch_status::cancelling:
      return "cancelling_at";
    case batch_status::cancelled:
      return "cancelled_at";
    case batch_status::validating:
      return "created_at";
  }
  return "created_at";
}

bool can_transition(batch_status from, batch_status to) noexcept {
  using enum batch_status;
  switch (from) {
    case validating:
      return to == in_progress || to == failed || to == cancelling;
    case in_progress:
      return to == finalizing || to == cancelling || to == expired;
    case cancelling:
      return to == cancelled;
    case finalizing:
      return to == completed || to == expired || to == cancelled;
    case failed:
    case completed:
    case expired:
    case cancelled:
      return false;
  }
  return false;
}

bool can_cancel(batch_status s) noexcept {
  return s == batch_status::validating || s == batch_status::in_progress;
}

json::object batch_json(const batch_record& b) {
  json::value errors = nullptr;
  if (!b.errors_json.empty()) {
    json::error_code ec;
    auto data = json::parse(b.errors_json, ec);
    if (!ec) {
      errors = json::object{{"object", "list"}, {"data", std::move(data)}};
    }
  }
  json::value metadata = nullptr;
  if (!b.metadata_json.empty()) {
    json::error_code ec;
    auto m = json::parse(b.metadata_json, ec);
    if (!ec) {
      metadata = std::move(m);
    }
  }
  return json::object{
      {"id", b.id},
      {"object", "batch"},
      {"endpoint", b.endpoint},
      {"model", opt_text(b.model)},
      {"errors", std::move(errors)},
      {"input_file_id", b.input_file_id},
      {"completion_window", b.completion_window},
      {"status", to_string(b.status)},
      {"output_file_id", opt_text(b.output_file_id)},
      {"error_file_id", opt_text(b.error_file_id)},
      {"created_at", b.created_at},
      {"in_progress_at", opt(b.in_progress_at)},
      {"expires_at", opt(b.expires_at)},
      {"finalizing_at", opt(b.finalizing_at)},
      {"completed_at", opt(b.completed_at)},
      {"failed_at", opt(b.failed_at)},
      {"expired_at", opt(b.expired_at)},
      {"cancelling_at", opt(b.cancelling_at)},
      {"cancelled_at", opt(b.cancelled_at)},
      {"request_counts", {{"total", b.total}, {"completed", b.completed}, {"failed", b.failed}}},
      {"usage",
       {{"input_tokens", b.input_tokens},
        {"input_tokens_details", {{"cached_tokens", 0}}},
        {"output_tokens", b.output_tokens},
        {"output_tokens_details", {{"reasoning_tokens", 0}}},
        {"total_tokens", b.input_tokens + b.output_tokens}}},
      {"metadata", std::move(metadata)},
      {"switchyard", {{"cost_usd", b.cost_usd}}},
  };
}

json::object file_json(const file_record& f) {
  return json::object{{"id", f.id},
                      {"object", "file"},
                      {"bytes", f.bytes},
                      {"created_at", f.created_at},
                      {"expires_at", nullptr},
                      {"filename", f.filename},
                      {"purpose", f.purpose},
                      {"status", "processed"},
                      {"status_details", nullptr}};
}

}  // namespace switchyard
