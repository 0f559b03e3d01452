#include "switchyard/proxy/fail.hpp"

#include "switchyard/providers/anthropic_errors.hpp"
#include "switchyard/proxy/headers.hpp"

#include <algorithm>
#include <charconv>

namespace switchyard {

namespace {

void copy_fields(const header_block& from, http::fields& to) {
  from.for_each([&](std::string_view name, std::string_view value) { to.set(name, value); });
}

// The headers every refusal and relayed answer carries, in the order clients have always seen
// them: tags then limits before the request was forwarded, the attempt headers after.
void add_gateway_headers(const request_context& ctx, http::fields& f) {
  if (ctx.forwarded) {
    add_attempt_headers(ctx, f);
  } else {
    copy_fields(ctx.tags, f);
    copy_fields(ctx.limit_headers, f);
  }
}

string_response finish(request_context& ctx, const error& e, string_response res, bool relayed) {
  const error_info& info = describe(e.code);
  if (!relayed && e.retry_after) {
    // Rounded up: a client waiting exactly this long must find the cause gone.
    const auto ms = std::max<std::int64_t>(e.retry_after->count(), 0);
    res.set(http::field::retry_after, std::to_string((ms + 999) / 1000));
    res.set("retry-after-ms", std::to_string(ms));
  }
  add_gateway_headers(ctx, res.base());
  if (!relayed && !e.retry_after && !info.retry_may_help) {
    // No wait makes it pass; a retry-after (from the rate limiter) would invite a resend.
    res.erase(http::field::retry_after);
    res.erase("retry-after-ms");
  }
  if (ctx.forwarded && ctx.attempts > 1 && ctx.model && !ctx.model->retry.client_may_retry &&
      res.result_int() >= 400) {
    // The gateway spent its retries: an SDK retrying too would multiply them (2 × 3 × …).
    res.set("x-should-retry", "false");
  }
  res.keep_alive(ctx.keep_alive() && res.keep_alive() && (relayed || !info.close_connection));
  ctx.rec.status = res.result_int();
  note_error(ctx.rec, e);
  return res;
}

}  // namespace

namespace {

// Both kinds of output: http::fields copies every value; header_list views the context's
// strings (which outlive it) and copies the one number.
template <class Out>
void attempt_headers(const request_context& ctx, Out& f) {
  f.set("x-request-id", ctx.rec.request_id);
  f.set("Server", "switchyard");
  char digits[12];
  const auto end = std::to_chars(digits, digits + sizeof digits, ctx.attempts).ptr;
  header_detail::set_copied(f, "x-switchyard-attempts",
                            std::string_view(digits, static_cast<std::size_t>(end - digits)));
  if (!ctx.fallback.empty()) {
    f.set("x-switchyard-fallback", ctx.fallback);
  }
  const auto put = [&](std::string_view name, std::string_view value) { f.set(name, value); };
  ctx.limit_headers.for_each(put);
  ctx.tags.for_each(put);
}

}  // namespace

void add_attempt_headers(const request_context& ctx, http::fields& f) {
  attempt_headers(ctx, f);
}

void add_attempt_headers(const request_context& ctx, header_list& f) {
  attempt_headers(ctx, f);
}

void note_error(access_record& rec, const error& e) noexcept {
  rec.error = error_label(e);
  rec.error_source = source_label(e.source);
}

string_response fail(request_context& ctx, const error& e) {
  // The status, body and x-should-retry of the error table, in the client's API's shape.
  return finish(ctx, e,
                api_error_response(endpoint_api(ctx.ep), e, ctx.req.version(), true,
                                   ctx.rec.request_id),
                false);
}

string_response api_error_response(api_kind client, const error& e, unsigned version,
                                   bool keep_alive, std::string_view request_id) {
  if (client != api_kind::messages) {
    return error_response(e, version, keep_alive, request_id);
  }
  const error_info& info = describe(e.code);
  auto res = json_response(info.status, anthropic_error_body(e, request_id), version,
                           keep_alive && !info.close_connection, request_id);
  if (!info.retry_may_help) {
    res.set("x-should-retry", "false");  // the same request will fail the same way
  }
  return res;
}

std::string stream_error_event(api_kind client, const error& e) {
  switch (client) {
    case api_kind::messages:
      return anthropic_error_event(e);
    case api_kind::responses:  // response.failed comes with the Responses ingress
    case api_kind::chat:
    case api_kind::completions:
    case api_kind::embeddings:
      break;
  }
  return error_event(e);
}

string_response fail(request_context& ctx, const error& e, string_response relayed) {
  return finish(ctx, e, std::move(relayed), true);
}

}  // namespace switchyard
