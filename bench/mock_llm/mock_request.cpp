// Body side of the mock protocol: the JSON requests, read with simdjson On-Demand in one pass.

#include "mock_protocol.hpp"

#include <simdjson.h>

#include <algorithm>

namespace switchyard::mock {
namespace {

namespace od = simdjson::ondemand;

// Limits that keep one request from making the mock render hundreds of megabytes.
constexpr std::uint64_t max_choices = 128;  // OpenAI's own limit for n
constexpr std::uint64_t max_inputs = 2048;  // OpenAI's own limit for embeddings input items
constexpr std::uint64_t max_dimensions = 16384;
constexpr std::uint64_t max_embedding_floats = std::uint64_t{4} << 20;

api_error malformed_json() {
  return make_error(400,
                    "We could not parse the JSON body of your request. (HINT: This likely means "
                    "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                    "payload, but what was sent was not valid JSON.)",
                    "invalid_request_error");
}

api_error invalid_field(std::string_view field, std::string_view expected) {
  std::string message = "Invalid type for '";
  message.append(field).append("': expected ").append(expected).append(".");
  return make_error(400, message, "invalid_request_error", field, "invalid_type");
}

api_error invalid_value(std::string_view field, std::string_view why) {
  std::string message = "Invalid value for '";
  message.append(field).append("': ").append(why).append(".");
  return make_error(400, message, "invalid_request_error", field, "invalid_value");
}

od::parser& thread_parser() {
  // One parser per io thread: it keeps its buffers, so parsing allocates nothing once warm.
  thread_local od::parser parser;
  return parser;
}

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h = (h ^ static_cast<unsigned char>(c)) * fnv_prime;
  }
  return h;
}

std::uint64_t fnv1a(std::uint64_t h, std::int64_t v) {
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) {
    h = (h ^ (u & 0xffu)) * fnv_prime;
    u >>= 8;
  }
  return h;
}

// Walks the top-level object once, in document order (the fast On-Demand path), handing each
// field to `on_field`, which returns an error to stop. Trailing bytes after the object are an
// error too, so that "{}garbage" is not accepted.
template <class OnField>
std::optional<api_error> for_each_field(std::string& body, OnField&& on_field) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (thread_parser()
          .iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
          .get(doc) != simdjson::SUCCESS) {
    return malformed_json();
  }
  od::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return malformed_json();
  }
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return malformed_json();
    }
    if (auto error = on_field(key, field.value())) {
      return error;
    }
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return malformed_json();
  }
  return std::nullopt;
}

bool is_null(od::value& v) {
  bool null = false;
  return v.is_null().get(null) == simdjson::SUCCESS && null;
}

std::optional<api_error> read_string(od::value v, std::string_view name, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    return invalid_field(name, "a string");
  }
  out.assign(s);
  return std::nullopt;
}

// Reads an optional boolean: null leaves `out` unchanged.
std::optional<api_error> read_bool(od::value v, std::string_view name, bool& out) {
  if (is_null(v)) {
    return std::nullopt;
  }
  if (v.get_bool().get(out) != simdjson::SUCCESS) {
    return invalid_field(name, "a boolean");
  }
  return std::nullopt;
}

// Reads an optional non-negative integer: null leaves `out` unchanged.
std::optional<api_error> read_uint(od::value v, std::string_view name,
                                   std::optional<std::uint64_t>& out) {
  if (is_null(v)) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  if (v.get_uint64().get(n) != simdjson::SUCCESS) {
    return invalid_field(name, "a non-negative integer");
  }
  out = n;
  return std::nullopt;
}

std::optional<api_error> read_stream_options(od::value v, generation_request& req) {
  if (is_null(v)) {
    return std::nullopt;
  }
  od::object object;
  if (v.get_object().get(object) != simdjson::SUCCESS) {
    return invalid_field("stream_options", "an object");
  }
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return malformed_json();
    }
    if (key == "include_usage") {
      if (auto error =
              read_bool(field.value(), "stream_options.include_usage", req.include_usage)) {
        return error;
      }
    }
  }
  return std::nullopt;
}

// One token array ([1, 2, 3]) is one input; its seed hashes the token ids.
std::optional<api_error> read_token_array(od::array tokens, embedding_request& req) {
  std::uint64_t seed = fnv1a(fnv_offset, std::string_view{"tokens"});
  std::uint64_t count = 0;
  for (auto token_result : tokens) {
    std::int64_t token = 0;
    if (token_result.get_int64().get(token) != simdjson::SUCCESS) {
      return invalid_field("input", "a string, an array of strings or an array of token arrays");
    }
    seed = fnv1a(seed, token);
    ++count;
  }
  req.seeds.push_back(seed);
  req.prompt_tokens += std::max<std::uint64_t>(count, 1);
  return std::nullopt;
}

std::optional<api_error> read_input(od::value v, embedding_request& req) {
  const auto wrong_type = [] {
    return invalid_field("input", "a string, an array of strings or an array of token arrays");
  };
  const auto add_string = [&req](std::string_view s) {
    req.seeds.push_back(fnv1a(fnv1a(fnv_offset, std::string_view{"text"}), s));
    req.prompt_tokens += estimate_prompt_tokens(s.size());
  };
  od::json_type type{};
  if (v.type().get(type) != simdjson::SUCCESS) {
    return malformed_json();
  }
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) {
      return malformed_json();
    }
    add_string(s);
    return std::nullopt;
  }
  od::array items;
  if (type != od::json_type::array || v.get_array().get(items) != simdjson::SUCCESS) {
    return wrong_type();
  }
  // The kind of the first item decides: strings, token ids (one input) or token arrays.
  std::optional<od::json_type> kind;
  std::uint64_t flat_seed = fnv1a(fnv_offset, std::string_view{"tokens"});
  std::uint64_t flat_count = 0;
  for (auto item_result : items) {
    od::value item;
    od::json_type item_type{};
    if (std::move(item_result).get(item) != simdjson::SUCCESS ||
        item.type().get(item_type) != simdjson::SUCCESS) {
      return malformed_json();
    }
    if (kind && *kind != item_type) {
      return wrong_type();
    }
    kind = item_type;
    if (req.seeds.size() >= max_inputs) {
      return invalid_value("input", "at most 2048 inputs are allowed");
    }
    std::string_view s;
    std::int64_t token = 0;
    od::array tokens;
    if (item_type == od::json_type::string && item.get_string().get(s) == simdjson::SUCCESS) {
      add_string(s);
    } else if (item_type == od::json_type::number &&
               item.get_int64().get(token) == simdjson::SUCCESS) {
      flat_seed = fnv1a(flat_seed, token);
      ++flat_count;
    } else if (item_type == od::json_type::array &&
               item.get_array().get(tokens) == simdjson::SUCCESS) {
      if (auto error = read_token_array(tokens, req)) {
        return error;
      }
    } else {
      return wrong_type();
    }
  }
  if (kind == od::json_type::number) {
    req.seeds.push_back(flat_seed);
    req.prompt_tokens += flat_count;
  }
  if (req.seeds.empty()) {
    return invalid_value("input", "must not be empty");
  }
  return std::nullopt;
}

api_error missing_model() {
  return make_error(400, "you must provide a model parameter", "invalid_request_error");
}

}  // namespace

result<generation_request> parse_generation(std::string& body) {
  generation_request req;
  std::optional<std::uint64_t> n;
  bool has_model = false;
  auto error =
      for_each_field(body, [&](std::string_view key, od::value v) -> std::optional<api_error> {
        if (key == "model") {
          has_model = true;
          return read_string(v, "model", req.model);
        }
        if (key == "stream") {
          return read_bool(v, "stream", req.stream);
        }
        if (key == "stream_options") {
          return read_stream_options(v, req);
        }
        if (key == "n") {
          return read_uint(v, "n", n);
        }
        if (key == "max_tokens" || key == "max_completion_tokens") {
          std::optional<std::uint64_t> cap;
          auto e = read_uint(v, key, cap);
          if (cap) {
            req.max_tokens = std::min(cap.value(), req.max_tokens.value_or(cap.value()));
          }
          return e;
        }
        return std::nullopt;
      });
  if (error) {
    return *error;
  }
  if (!has_model || req.model.empty()) {
    return missing_model();
  }
  if (n) {
    if (*n < 1 || *n > max_choices) {
      return invalid_value("n", "must be between 1 and 128");
    }
    req.n = *n;
  }
  return req;
}

result<embedding_request> parse_embedding(std::string& body) {
  embedding_request req;
  bool has_model = false;
  bool has_input = false;
  auto error =
      for_each_field(body, [&](std::string_view key, od::value v) -> std::optional<api_error> {
        if (key == "model") {
          has_model = true;
          return read_string(v, "model", req.model);
        }
        if (key == "input") {
          has_input = true;
          return read_input(v, req);
        }
        if (key == "dimensions") {
          std::optional<std::uint64_t> dims;
          auto e = read_uint(v, "dimensions", dims);
          if (dims && (*dims < 1 || *dims > max_dimensions)) {
            return invalid_value("dimensions", "must be between 1 and 16384");
          }
          if (dims) {
            req.dimensions = static_cast<std::uint32_t>(*dims);
          }
          return e;
        }
        if (key == "encoding_format") {
          std::string format;
          if (is_null(v)) {
            return std::nullopt;
          }
          if (auto e = read_string(v, "encoding_format", format)) {
            return e;
          }
          if (format != "float" && format != "base64") {
            return invalid_value("encoding_format", "must be 'float' or 'base64'");
          }
          req.base64 = format == "base64";
        }
        return std::nullopt;
      });
  if (error) {
    return *error;
  }
  if (!has_model || req.model.empty()) {
    return missing_model();
  }
  if (!has_input) {
    return make_error(400, "you must provide an input parameter", "invalid_request_error", "input");
  }
  if (req.seeds.size() * req.dimensions > max_embedding_floats) {
    return invalid_value("dimensions", "inputs x dimensions is too large for the mock");
  }
  return req;
}

}  // namespace switchyard::mock
