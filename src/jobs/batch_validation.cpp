#include "switchyard/jobs/batch_validation.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace json = boost::json;

std::optional<line_reader::line> line_reader::next() {
  line out;
  out.offset = offset_;
  bool any = false;
  for (;;) {
    const int c = std::getc(f_);  // stdio buffers the file: one read() per 4 KiB or so
    if (c == EOF) {
      return any ? std::optional<line>(std::move(out)) : std::nullopt;
    }
    any = true;
    ++offset_;
    if (c == '\n') {
      return out;
    }
    if (out.too_long) {
      continue;
    }
    if (out.text.size() >= max_) {
      out.too_long = true;
      std::string().swap(out.text);
      continue;
    }
    out.text.push_back(static_cast<char>(c));
  }
}

void batch_validation::add_error(std::string_view code, std::string_view message,
                                 std::string_view param, std::int64_t line) {
  if (++count_ > max_listed_errors) {
    return;
  }
  errors_.push_back(json::serialize(json::object{
      {"code", code},
      {"message", message},
      {"param", param.empty() ? json::value(nullptr) : json::value(json::string(param))},
      {"line", line > 0 ? json::value(line) : json::value(nullptr)}}));
}

std::optional<batch_line_ref> batch_validation::add(const line_reader::line& l) {
  const std::int64_t n = ++line_no_;
  std::string_view text = l.text;
  if (!l.too_long && (text.empty() || text == "\r")) {
    return std::nullopt;  // blank lines (a trailing newline) are not requests
  }
  if (++requests_ > max_lines_) {
    add_error("too_many_requests",
              "The input file has more than " + std::to_string(max_lines_) +
                  " requests (batches.max_lines).",
              "", n);
    stopped_ = true;
    return std::nullopt;
  }
  if (l.too_long) {
    add_error("line_too_long",
              "This line is longer than " + std::to_string(max_line_bytes_) +
                  " bytes (batches.max_line_bytes).",
              "", n);
    return std::nullopt;
  }
  auto v = validate_batch_line(text, endpoint_);
  if (!v) {
    add_error(v.error().code, v.error().message, v.error().param, n);
    return std::nullopt;
  }
  if (model_.empty()) {
    model_ = v->model;
  } else if (v->model != model_) {
    add_error("mismatched_model",
              "The provided model `" + v->model + "` does not match the model `" + model_ +
                  "` of the rest of the batch.",
              "body.model", n);
    return std::nullopt;
  }
  if (text.back() == '\r') {
    text.remove_suffix(1);
  }
  return batch_line_ref{n, v->custom_id, l.offset, static_cast<std::uint32_t>(text.size())};
}

void batch_validation::duplicate(std::int64_t line_no) {
  add_error("duplicate_custom_id",
            "The custom_id for this request is a duplicate of another request. The custom_id "
            "parameter must be unique for each request in a batch.",
            "custom_id", line_no);
}

void batch_validation::file_error(std::string_view code, std::string_view message) {
  add_error(code, message, "input_file_id", 0);
}

void batch_validation::finish() {
  if (requests_ == 0 && count_ == 0) {
    file_error("empty_file", "The input file has no requests.");
  }
}

std::string batch_validation::errors_json() const {
  std::string out = "[";
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    out += (i ? "," : "") + errors_[i];
  }
  if (count_ > max_listed_errors) {
    out +=
        "," + json::serialize(json::object{{"code", "too_many_errors"},
                                           {"message", std::to_string(count_ - max_listed_errors) +
                                                           " more errors are not listed."},
                                           {"param", nullptr},
                                           {"line", nullptr}});
  }
  return out + "]";
}

}  // namespace switchyard
