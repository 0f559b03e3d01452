#include "switchyard/proxy/fail.hpp"

#include <algorithm>

namespace switchyard {

namespace {

void copy_fields(const http::fields& from, http::fields& to) {
  for (const auto& h : from) {
    to.set(h.name_string(), h.value());
  }
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

void add_attempt_headers(const request_context& ctx, http::fields& f) {
  f.set("x-request-id", ctx.rec.request_id);
  f.set(http::field::server, "switchyard");
  f.set("x-switchyard-attempts", std::to_string(ctx.attempts));
  if (!ctx.fallback.empty()) {
    f.set("x-switchyard-fallback", ctx.fallback);
  }
  copy_fields(ctx.limit_headers, f);
  copy_fields(ctx.tags, f);
}

void note_error(access_record& rec, const error& e) noexcept {
  rec.error = error_label(e);
  rec.error_source = source_label(e.source);
}

string_response fail(request_context& ctx, const error& e) {
  // error_response: the status, body and x-should-retry of the error table.
  return finish(ctx, e, error_response(e, ctx.req.version(), true, ctx.rec.request_id), false);
}

string_response fail(request_context& ctx, const error& e, string_response relayed) {
  return finish(ctx, e, std::move(relayed), true);
}

}  // namespace switchyard
