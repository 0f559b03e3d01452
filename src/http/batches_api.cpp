#include "switchyard/http/batches_api.hpp"

#include "switchyard/http/api.hpp"
#include "switchyard/jobs/batch_service.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <optional>

namespace switchyard {

namespace {

namespace json = boost::json;

// OpenAI answers an unknown id with 404 and `code: null` (not the gateway's `unknown_url`).
string_response no_such(const local_call& c, std::string_view what, const std::string& id,
                        std::string_view param) {
  return json_answer(c,
                     json::object{{"error",
                                   {{"message", "No such " + std::string(what) + ": " + id},
                                    {"type", "invalid_request_error"},
                                    {"param", param},
                                    {"code", nullptr}}}},
                     http::status::not_found);
}

result<batch_service*> service(const local_call& c) {
  if (c.w.shared.batches == nullptr) {
    return make_error(errc::internal, "The Batch API is not running in this gateway.");
  }
  return c.w.shared.batches;
}

// `limit` in [1, max], `fallback` when absent; an error naming the parameter otherwise.
result<std::size_t> limit_of(const local_call& c, std::size_t fallback, std::size_t max) {
  auto q = c.route.query("limit");
  if (!q) {
    return fallback;
  }
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(q->data(), q->data() + q->size(), n);
  if (ec != std::errc() || p != q->data() + q->size() || n < 1 || n > max) {
    return make_error(errc::invalid_request,
                      "limit must be an integer from 1 to " + std::to_string(max) + ".", "limit");
  }
  return n;
}

template <class T, class F>
json::object page(const std::vector<T>& items, bool has_more, F to_json) {
  json::array data;
  for (const auto& i : items) {
    data.push_back(to_json(i));
  }
  return json::object{
      {"object", "list"},
      {"data", std::move(data)},
      {"first_id", items.empty() ? json::value(nullptr) : json::value(items.front().id)},
      {"last_id", items.empty() ? json::value(nullptr) : json::value(items.back().id)},
      {"has_more", has_more}};
}

}  // namespace

result<string_response> upload_file(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  auto f = (*s)->upload(c.req[http::field::content_type], c.req.body());
  if (!f) {
    return f.error();
  }
  return json_answer(c, file_json(*f));
}

result<string_response> list_files(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  auto limit = limit_of(c, 10000, 10000);
  if (!limit) {
    return limit.error();
  }
  const auto order = c.route.query("order").value_or("desc");
  if (order != "asc" && order != "desc") {
    return make_error(errc::invalid_request, "order must be asc or desc.", "order");
  }
  auto files = (*s)->store().files(c.route.query("purpose").value_or(""),
                                   c.route.query("after").value_or(""), *limit + 1, order == "asc");
  if (!files) {
    return files.error();
  }
  const bool more = files->size() > *limit;
  if (more) {
    files->pop_back();
  }
  return json_answer(c, page(*files, more, file_json));
}

result<string_response> get_file(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  const auto id = c.route.param("id");
  auto f = (*s)->store().file(id);
  if (!f) {
    return f.error();
  }
  if (!*f) {
    return no_such(c, "File object", id, "id");
  }
  return json_answer(c, file_json(**f));
}

result<string_response> get_file_content(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  const auto id = c.route.param("id");
  auto f = (*s)->store().file(id);
  if (!f) {
    return f.error();
  }
  if (!*f) {
    return no_such(c, "File object", id, "id");
  }
  string_response res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "application/octet-stream");
  res.set("x-request-id", c.request_id());
  res.keep_alive(c.keep);
  // The bytes go a piece at a time after the header (bounded memory: a file may be hundreds of
  // MB); each piece is read on the admin executor when the connection has taken the last one.
  // The first piece is read here, so that a missing content (or a store that does not answer)
  // is still an error status, not a 200 cut short.
  auto first = (*s)->content_piece(**f, 0);
  if (!first) {
    return first.error();
  }
  auto pieces =
      [svc = *s, file = **f, offset = std::uint64_t{0},
       head = std::optional<std::string>(std::move(*first))]() mutable -> result<std::string> {
    if (head) {
      std::string p = std::move(*head);
      head.reset();
      offset = p.size();
      return p;
    }
    auto p = svc->content_piece(file, offset);
    if (p) {
      offset += p->size();
    }
    return p;
  };
  if (c.streamed) {
    // The header's Content-Length is the body's length, set where it is written (write_streamed).
    *c.streamed = std::make_shared<streamed_body>(streamed_body{(*f)->bytes, std::move(pieces)});
    return res;
  }
  for (;;) {  // no streaming offered (a unit harness): the whole body
    auto p = pieces();
    if (!p) {
      return p.error();
    }
    if (p->empty()) {
      break;
    }
    res.body() += *p;
  }
  res.prepare_payload();
  return res;
}

result<string_response> delete_file(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  const auto id = c.route.param("id");
  auto d = (*s)->remove_file(id);
  if (!d) {
    return d.error();
  }
  if (!*d) {
    return no_such(c, "File object", id, "id");
  }
  return json_answer(c, json::object{{"id", id}, {"object", "file"}, {"deleted", true}});
}

result<string_response> create_batch(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  auto b = (*s)->create(c.req.body(), c.req[http::field::authorization]);
  if (!b) {
    if (b.error().code == errc::not_found) {
      return json_answer(c,
                         json::object{{"error",
                                       {{"message", b.error().message},
                                        {"type", "invalid_request_error"},
                                        {"param", b.error().param},
                                        {"code", nullptr}}}},
                         http::status::not_found);
    }
    return b.error();
  }
  return json_answer(c, batch_json(*b));
}

result<string_response> list_batches(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  auto limit = limit_of(c, 20, 100);
  if (!limit) {
    return limit.error();
  }
  auto list = (*s)->store().batches(c.route.query("after").value_or(""), *limit + 1);
  if (!list) {
    return list.error();
  }
  const bool more = list->size() > *limit;
  if (more) {
    list->pop_back();
  }
  return json_answer(c, page(*list, more, batch_json));
}

result<string_response> get_batch(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  const auto id = c.route.param("id");
  auto b = (*s)->store().batch(id);
  if (!b) {
    return b.error();
  }
  if (!*b) {
    return no_such(c, "Batch object", id, "batch_id");
  }
  return json_answer(c, batch_json(**b));
}

result<string_response> cancel_batch(const local_call& c) {
  auto s = service(c);
  if (!s) {
    return s.error();
  }
  const auto id = c.route.param("id");
  auto b = (*s)->cancel(id);
  if (!b) {
    if (b.error().code == errc::not_found) {
      return no_such(c, "Batch object", id, "batch_id");
    }
    return b.error();
  }
  return json_answer(c, batch_json(*b));
}

}  // namespace switchyard
