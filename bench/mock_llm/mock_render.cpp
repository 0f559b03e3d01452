// Response side of the mock protocol.
//
// Chat chunks and completions are rendered by appending into reused buffers rather than through
// a JSON library: their shape is fixed, this is the hot path a benchmark measures (one event per
// token, thousands of streams), and the only caller-controlled string (the model name) goes
// through append_json_string. Errors, which carry free text, use Boost.JSON (mock_protocol.cpp).

#include "mock_protocol.hpp"

#include <openssl/evp.h>

#include <bit>
#include <charconv>
#include <cmath>

namespace switchyard::mock {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Shortest text that reads back as the same float32, so float and base64 answers agree.
void append_float(std::string& out, float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;  // UTF-8 passes through; simdjson has validated it
    }
  }
  out += '"';
}

bool is_chat(const generation_plan& plan) {
  return plan.kind == generation_plan::api::chat;
}

std::string_view finish_reason(const generation_plan& plan) {
  return plan.length_capped ? "\"length\"" : "\"stop\"";
}

// `{"id":"…","object":"…","created":…,"model":"…"` shared by whole answers and chunks.
void append_envelope(std::string& out, const generation_plan& plan, std::string_view object) {
  out += is_chat(plan) ? R"({"id":"chatcmpl-mock-)" : R"({"id":"cmpl-mock-)";
  append_uint(out, plan.id);
  out += R"(","object":")";
  out += object;
  out += R"(","created":)";
  append_int(out, plan.created);
  out += R"(,"model":)";
  append_json_string(out, plan.model);
}

void append_usage(std::string& out, const generation_plan& plan) {
  const std::uint64_t completion = plan.tokens * plan.n;
  out += R"({"prompt_tokens":)";
  append_uint(out, plan.prompt_tokens);
  out += R"(,"completion_tokens":)";
  append_uint(out, completion);
  out += R"(,"total_tokens":)";
  append_uint(out, plan.prompt_tokens + completion);
  out += '}';
}

// splitmix64: a tiny, well-mixed generator, so each input's vector is fixed by its hash.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void append_base64_floats(std::string& out, const std::vector<float>& v) {
  std::string bytes(v.size() * 4, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(v[i]);
    for (std::size_t b = 0; b < 4; ++b) {  // little-endian whatever the host is
      bytes[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xffu);
    }
  }
  const std::size_t start = out.size();
  out.resize(start + 4 * ((bytes.size() + 2) / 3) + 1);  // +1: EVP_EncodeBlock writes a NUL
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + start),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(start + static_cast<std::size_t>(written));
}

}  // namespace

void append_token_text(std::string& out, std::uint64_t i) {
  out += "tok";
  append_uint(out, i);
  out += ' ';
}

std::string render_completion(const generation_plan& plan) {
  std::string text;
  text.reserve(plan.tokens * 8);
  for (std::uint64_t i = 0; i < plan.tokens; ++i) {
    append_token_text(text, i);
  }
  std::string out;
  out.reserve(256 + plan.model.size() + plan.n * (96 + text.size()));
  append_envelope(out, plan, is_chat(plan) ? "chat.completion" : "text_completion");
  out += R"(,"choices":[)";
  for (std::uint64_t c = 0; c < plan.n; ++c) {
    out += c == 0 ? "" : ",";
    if (is_chat(plan)) {
      out += R"({"index":)";
      append_uint(out, c);
      out += R"(,"message":{"role":"assistant","content":")";
      out += text;
      out += R"(","refusal":null},"logprobs":null,"finish_reason":)";
    } else {
      out += R"({"text":")";
      out += text;
      out += R"(","index":)";
      append_uint(out, c);
      out += R"(,"logprobs":null,"finish_reason":)";
    }
    out += finish_reason(plan);
    out += '}';
  }
  out += R"(],"usage":)";
  append_usage(out, plan);
  out += '}';
  return out;
}

stream_renderer::stream_renderer(const generation_plan& plan) : plan_(plan) {
  head_ = "data: ";
  append_envelope(head_, plan, is_chat(plan) ? "chat.completion.chunk" : "text_completion");
  head_ += R"(,"choices":[)";
  tail_ = plan.include_usage ? R"(],"usage":null})" : "]}";
  tail_ += "\n\n";
  out_.reserve(head_.size() + tail_.size() + 128);
}

void stream_renderer::begin_choice(std::uint64_t choice) {
  out_.assign(head_);
  if (is_chat(plan_)) {
    out_ += R"({"index":)";
    append_uint(out_, choice);
    out_ += R"(,"delta":{)";
  } else {
    out_ += R"({"text":")";
  }
}

void stream_renderer::end_choice(bool last) {
  out_ += R"(,"logprobs":null,"finish_reason":)";
  out_ += last ? finish_reason(plan_) : "null";
  out_ += '}';
  out_ += tail_;
}

std::string_view stream_renderer::role(std::uint64_t choice) {
  begin_choice(choice);
  out_ += R"("role":"assistant","content":""})";
  end_choice(false);
  return out_;
}

std::string_view stream_renderer::token(std::uint64_t i, std::uint64_t choice) {
  begin_choice(choice);
  if (is_chat(plan_)) {
    out_ += R"("content":")";
    append_token_text(out_, i);
    out_ += R"("})";
  } else {
    append_token_text(out_, i);
    out_ += R"(","index":)";
    append_uint(out_, choice);
  }
  end_choice(i + 1 == plan_.tokens);
  return out_;
}

std::string_view stream_renderer::finish(std::uint64_t choice) {
  begin_choice(choice);
  if (is_chat(plan_)) {
    out_ += '}';
  } else {
    out_ += R"(","index":)";
    append_uint(out_, choice);
  }
  end_choice(true);
  return out_;
}

std::string_view stream_renderer::usage() {
  out_.assign(head_);
  out_ += R"(],"usage":)";
  append_usage(out_, plan_);
  out_ += "}\n\n";
  return out_;
}

std::string_view stream_renderer::done() {
  return "data: [DONE]\n\n";
}

std::vector<float> embedding_vector(std::uint64_t seed, std::uint32_t dimensions) {
  std::vector<float> v(dimensions);
  std::uint64_t state = seed;
  double norm = 0;
  for (auto& x : v) {
    // 24 random bits → an exact float in [-1, 1).
    x = static_cast<float>(splitmix64(state) >> 40) * 0x1.0p-23f - 1.0f;
    norm += static_cast<double>(x) * static_cast<double>(x);
  }
  // Unit length, like OpenAI's embeddings, so cosine similarity equals the dot product.
  if (norm > 0) {
    const double scale = 1.0 / std::sqrt(norm);
    for (auto& x : v) {
      x = static_cast<float>(static_cast<double>(x) * scale);
    }
  }
  return v;
}

std::string render_embeddings(const embedding_request& req) {
  std::string out;
  out.reserve(128 + req.model.size() + req.seeds.size() * (48 + req.dimensions * 12));
  out += R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < req.seeds.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += R"({"object":"embedding","index":)";
    append_uint(out, i);
    out += R"(,"embedding":)";
    const auto v = embedding_vector(req.seeds[i], req.dimensions);
    if (req.base64) {
      out += '"';
      append_base64_floats(out, v);
      out += '"';
    } else {
      out += '[';
      for (std::size_t d = 0; d < v.size(); ++d) {
        out += d == 0 ? "" : ",";
        append_float(out, v[d]);
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)";
  append_json_string(out, req.model);
  out += R"(,"usage":{"prompt_tokens":)";
  append_uint(out, req.prompt_tokens);
  out += R"(,"total_tokens":)";
  append_uint(out, req.prompt_tokens);
  out += "}}";
  return out;
}

std::string_view models_body() {
  return R"({"object":"list","data":[{"id":"mock-model","object":"model","created":0,)"
         R"("owned_by":"mock"}]})";
}

std::string_view model_body() {
  return R"({"id":"mock-model","object":"model","created":0,"owned_by":"mock"})";
}

}  // namespace switchyard::mock
