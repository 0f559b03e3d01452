#include "switchyard/store/redis_store.hpp"

#include "redis_control_script.hpp"
#include "redis_scripts.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/experiments/latency_sketch.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#include <tuple>

namespace switchyard {

namespace {

namespace json = boost::json;

constexpr char sep = '\x1f';  // between names inside keys and row ids (not in any name we write)
constexpr int flush_id_ttl_seconds = 86'400;
constexpr std::size_t scan_count = 1000;
constexpr std::array<const char*, 15> moment_fields = {
    "latency_n",   "latency_sum",   "latency_sum_sq", "ttft_n",       "ttft_sum",
    "ttft_sum_sq", "input_n",       "input_sum",      "input_sum_sq", "output_n",
    "output_sum",  "output_sum_sq", "cost_n",         "cost_sum",     "cost_sum_sq"};

const redis_script& flush_script() {
  static const redis_script s(redis_lua::flush);
  return s;
}
const redis_script& feedback_script() {
  static const redis_script s(redis_lua::feedback);
  return s;
}
const redis_script& put_prompts_script() {
  static const redis_script s(redis_lua::put_prompts);
  return s;
}
const redis_script& delete_prompt_script() {
  static const redis_script s(redis_lua::delete_prompt);
  return s;
}
const redis_script& control_cas_script() {
  static const redis_script s(redis_lua::control_cas);
  return s;
}

std::vector<std::string> split(std::string_view s, char c) {
  std::vector<std::string> out;
  for (;;) {
    const auto at = s.find(c);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    s.remove_prefix(at + 1);
  }
}

template <class T>
bool to_number(std::string_view s, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    // Redis writes floats with %.17g; strtod reads every form it writes (inf too).
    std::string z(s);
    char* end = nullptr;
    out = std::strtod(z.c_str(), &end);
    return !z.empty() && end == z.c_str() + z.size();
  } else {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
  }
}

// The bucket (index, count) pairs of a serialized latency_sketch (see latency_sketch.hpp:
// version byte, varint count of buckets, then varint gap + varint count per bucket). Validated by
// deserialize first, so the loop only walks a well-formed buffer.
json::array sketch_buckets(const std::string& bytes) {
  json::array out;
  if (bytes.empty() || !latency_sketch::deserialize(bytes)) {
    return out;
  }
  std::size_t pos = 1;
  auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0; pos < bytes.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(bytes[pos++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        break;
      }
    }
    return v;
  };
  const std::uint64_t used = varint();
  std::uint64_t next = 0;
  for (std::uint64_t i = 0; i < used; ++i) {
    const std::uint64_t index = next + varint();
    const std::uint64_t count = varint();
    out.push_back(index);
    out.push_back(count);
    next = index + 1;
  }
  return out;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// A serialized sketch from its buckets (index → count), in latency_sketch's format.
std::string sketch_from(const std::map<std::uint64_t, std::uint64_t>& buckets) {
  if (buckets.empty()) {
    return {};
  }
  std::string out(1, '\x01');
  put_varint(out, buckets.size());
  std::uint64_t next = 0;
  for (const auto& [index, count] : buckets) {
    put_varint(out, index - next);
    put_varint(out, std::min<std::uint64_t>(count, 0xffffffffu));
    next = index + 1;
  }
  // A bucket index out of range (a foreign writer) must not become a sketch that fails later.
  return latency_sketch::deserialize(out) ? out : std::string();
}

std::string to_string(std::string_view s) {
  return std::string(s);
}

std::string encode_feedback(const feedback_record& f) {
  json::object o{{"r", f.request_id},          {"ev", f.event},
                 {"e", f.experiment},          {"v", f.variant},
                 {"pv", f.prompt_version},     {"t", f.unix_seconds},
                 {"u", std::to_string(f.unit)}};
  if (f.value && !std::isnan(*f.value)) {
    o["val"] = *f.value;
  } else {
    o["val"] = nullptr;
  }
  return json::serialize(o);
}

std::optional<feedback_record> decode_feedback(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  const auto& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    const auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  feedback_record f;
  f.request_id = str("r");
  f.event = str("ev");
  f.experiment = str("e");
  f.variant = str("v");
  f.prompt_version = str("pv");
  if (const auto* t = o.if_contains("t"); t && t->is_int64()) {
    f.unix_seconds = t->as_int64();
  }
  if (const auto* x = o.if_contains("val"); x && x->is_number()) {
    f.value = x->to_number<double>();
  }
  if (!to_number(str("u"), f.unit)) {
    f.unit = 0;
  }
  return f;
}

json::array to_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) {
    a.push_back(json::string(s));
  }
  return a;
}

json::array to_json(const std::vector<double>& v) {
  json::array a;
  for (double d : v) {
    a.push_back(d);
  }
  return a;
}

template <class T>
bool from_json(const json::value* v, std::vector<T>& out) {
  if (!v) {
    return false;
  }
  auto r = json::try_value_to<std::vector<T>>(*v);
  if (!r) {
    return false;
  }
  out = std::move(*r);
  return true;
}

// Flat [field, value, field, value…] of HGETALL / HSCAN into callbacks.
template <class Fn>
void for_pairs(const redis_reply& r, Fn fn) {
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    fn(r.elements[i].str, r.elements[i + 1].str);
  }
}

error bad_reply(const std::string& what) {
  return make_error(errc::internal, "experiment store (redis): unexpected reply to " + what);
}

}  // namespace

redis_experiment_store::redis_experiment_store(std::shared_ptr<redis_client> client,
                                               redis_store_options opts)
    : client_(std::move(client)),
      prefix_(std::move(opts.key_prefix)),
      timeout_(opts.flush_timeout),
      max_bytes_(opts.buffer_max_bytes) {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  std::uint64_t id = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ dist(rd);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  replica_id_ = buf;
}

std::uint64_t redis_experiment_store::failures(std::string_view op) const noexcept {
  if (op == "write") {
    return write_failures_.load();
  }
  if (op == "read") {
    return read_failures_.load();
  }
  return control_failures_.load();
}

result<redis_reply> redis_experiment_store::call(std::vector<std::string> argv) {
  auto r = client_->command_sync(std::move(argv), timeout_);
  if (r && r->kind == redis_reply::type::error) {
    return make_error(errc::internal, "experiment store (redis): " + r->str);
  }
  return r;
}

error redis_experiment_store::fail(const char* op, error e) {
  std::string_view o(op);
  (o == "write"  ? write_failures_
   : o == "read" ? read_failures_
                 : control_failures_)
      .fetch_add(1, std::memory_order_relaxed);
  return e;
}

// ---- statistics ----

result<void> redis_experiment_store::write_batch(std::span<const variant_hour_stats> rows,
                                                 std::span<const unit_record> units) {
  json::array jrows, junits;
  std::uint64_t requests = 0;
  for (const auto& r : rows) {
    json::array m;
    for (const moments* x :
         {&r.latency_ms, &r.ttft_ms, &r.input_tokens, &r.output_tokens, &r.cost_usd}) {
      m.push_back(x->n);
      m.push_back(x->sum);
      m.push_back(x->sum_sq);
    }
    jrows.push_back(json::object{{"e", r.experiment},
                                 {"v", r.variant},
                                 {"pv", r.prompt_version},
                                 {"h", r.hour},
                                 {"ph", r.phase},
                                 {"n", r.requests},
                                 {"x", r.errors},
                                 {"m", std::move(m)},
                                 {"l", sketch_buckets(r.latency_sketch)},
                                 {"t", sketch_buckets(r.ttft_sketch)}});
    requests += r.requests;
  }
  for (const auto& u : units) {
    const unit_sums& s = u.sums;
    junits.push_back(json::object{{"e", u.experiment},
                                  {"v", u.variant},
                                  {"f", std::to_string(u.fingerprint)},
                                  {"h", u.hour},
                                  {"ph", u.phase},
                                  {"s", json::array{s.requests, s.errors, s.latency_ms, s.ttft_n,
                                                    s.ttft_ms, s.cost_usd, s.output_tokens}}});
  }
  std::lock_guard lock(flush_mutex_);
  pending_flush f;
  f.id = replica_id_ + ":" + std::to_string(++sequence_);
  f.payload =
      json::serialize(json::object{{"rows", std::move(jrows)}, {"units", std::move(junits)}});
  f.requests = requests;
  buffered_bytes_ += f.payload.size() + f.id.size();
  flushes_.push_back(std::move(f));
  enforce_bound();
  return replay_locked();
}

bool redis_experiment_store::apply_flush(const pending_flush& f) {
  auto r = client_->eval_sync(flush_script(), {},
                              {prefix_, f.id, std::to_string(flush_id_ttl_seconds),
                               std::to_string(max_units_per_phase), f.payload},
                              timeout_);
  if (!r) {
    fail("write", r.error());
    return false;  // kept: replayed under the same id (applied at most once)
  }
  if (r->kind == redis_reply::type::error) {
    // Not transient (a script error): replaying it would block every later flush.
    fail("write", make_error(errc::internal, r->str));
    spdlog::error(
        "experiment store (redis): a statistics flush was refused ({}); dropped ({} "
        "requests)",
        r->str, f.requests);
    dropped_requests_ += f.requests;
  }
  return true;
}

void redis_experiment_store::enforce_bound() {
  while (buffered_bytes_.load() > max_bytes_ && !flushes_.empty()) {
    const pending_flush& oldest = flushes_.front();
    if (!dropping_logged_.exchange(true)) {
      spdlog::error(
          "experiment store (redis): the buffer is full (store.buffer_max_bytes = {}); dropping "
          "the oldest statistics flushes (counted in switchyard_store_dropped_total)",
          max_bytes_);
    }
    dropped_requests_ += oldest.requests;
    buffered_bytes_ -= oldest.payload.size() + oldest.id.size();
    flushes_.pop_front();
  }
}

result<void> redis_experiment_store::replay_locked() {
  replay_feedback();
  while (!flushes_.empty()) {
    if (!apply_flush(flushes_.front())) {
      return {};  // buffered; Redis is down (the client logged it once)
    }
    buffered_bytes_ -= flushes_.front().payload.size() + flushes_.front().id.size();
    flushes_.pop_front();
  }
  dropping_logged_.store(false);
  return {};
}

result<void> redis_experiment_store::replay() {
  std::lock_guard lock(flush_mutex_);
  return replay_locked();
}

result<std::vector<std::string>> redis_experiment_store::experiments() {
  auto r = call({"SMEMBERS", prefix_ + "experiments"});
  if (!r) {
    return fail("read", r.error());
  }
  std::vector<std::string> out;
  for (const auto& e : r->elements) {
    out.push_back(e.str);
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<std::vector<variant_hour_stats>> redis_experiment_store::stats_of(
    const std::string& experiment, std::int64_t from_hour, std::int64_t to_hour) {
  auto ids = call({"SMEMBERS", prefix_ + "sx:" + experiment});
  if (!ids) {
    return fail("read", ids.error());
  }
  std::vector<variant_hour_stats> out;
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids->elements) {
    auto parts = split(id.str, sep);
    variant_hour_stats s;
    if (parts.size() != 4 || !to_number(parts[0], s.phase) || !to_number(parts[1], s.hour)) {
      continue;  // not ours
    }
    if (s.hour < from_hour || s.hour >= to_hour) {
      continue;
    }
    s.experiment = experiment;
    s.variant = parts[2];
    s.prompt_version = parts[3];
    out.push_back(std::move(s));
    cmds.push_back({"HGETALL", prefix_ + "s:" + experiment + sep + id.str});
  }
  if (cmds.empty()) {
    return out;
  }
  auto replies = client_->pipeline_sync(std::move(cmds), timeout_);
  if (!replies) {
    return fail("read", replies.error());
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    variant_hour_stats& s = out[i];
    std::map<std::uint64_t, std::uint64_t> lat, ttft;
    std::array<double, 15> m{};
    for_pairs((*replies)[i], [&](const std::string& k, const std::string& v) {
      if (k == "requests") {
        to_number(v, s.requests);
      } else if (k == "errors") {
        to_number(v, s.errors);
      } else if (!k.empty() && (k[0] == 'l' || k[0] == 't') && k.size() > 1 &&
                 std::isdigit(static_cast<unsigned char>(k[1]))) {
        std::uint64_t index = 0, count = 0;
        if (to_number(std::string_view(k).substr(1), index) && to_number(v, count)) {
          (k[0] == 'l' ? lat : ttft)[index] += count;
        }
      } else {
        for (std::size_t f = 0; f < moment_fields.size(); ++f) {
          if (k == moment_fields[f]) {
            to_number(v, m[f]);
          }
        }
      }
    });
    std::size_t f = 0;
    for (moments* x : {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
      x->n = m[f++];
      x->sum = m[f++];
      x->sum_sq = m[f++];
    }
    s.latency_sketch = sketch_from(lat);
    s.ttft_sketch = sketch_from(ttft);
  }
  return out;
}

result<std::vector<variant_hour_stats>> redis_experiment_store::read_stats(
    std::string_view experiment, std::int64_t from_hour, std::int64_t to_hour) {
  auto out = stats_of(to_string(experiment), from_hour, to_hour);
  if (out) {
    std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
      return std::tie(a.hour, a.variant, a.prompt_version, a.phase) <
             std::tie(b.hour, b.variant, b.prompt_version, b.phase);
    });
  }
  return out;
}

result<std::vector<variant_hour_stats>> redis_experiment_store::read_prompt_stats(
    std::string_view prompt_name) {
  auto names = experiments();
  if (!names) {
    return names.error();
  }
  const std::string want = std::string(prompt_name) + "@";
  std::vector<variant_hour_stats> out;
  for (const auto& e : *names) {
    auto rows = stats_of(e, std::numeric_limits<std::int64_t>::min(),
                         std::numeric_limits<std::int64_t>::max());
    if (!rows) {
      return rows.error();
    }
    for (auto& r : *rows) {
      if (r.prompt_version.starts_with(want)) {
        out.push_back(std::move(r));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.prompt_version, a.hour, a.experiment, a.variant, a.phase) <
           std::tie(b.prompt_version, b.hour, b.experiment, b.variant, b.phase);
  });
  return out;
}

result<std::map<std::string, std::uint64_t>> redis_experiment_store::unit_counts(
    std::string_view experiment) {
  auto r = call({"HGETALL", prefix_ + "ucx:" + std::string(experiment)});
  if (!r) {
    return fail("read", r.error());
  }
  std::map<std::string, std::uint64_t> out;
  for_pairs(*r, [&](const std::string& k, const std::string& v) {
    std::uint64_t n = 0;
    if (to_number(v, n) && n > 0) {
      out[k] = n;
    }
  });
  return out;
}

namespace {

struct unit_row {
  bool mixed = false;
  unit_sums s;
  std::string variant;
};

std::optional<unit_row> parse_unit(std::string_view packed) {
  unit_row u;
  std::array<double, 8> f{};
  for (double& x : f) {
    const auto comma = packed.find(',');
    if (comma == std::string_view::npos || !to_number(packed.substr(0, comma), x)) {
      return std::nullopt;
    }
    packed.remove_prefix(comma + 1);
  }
  u.mixed = f[0] != 0;
  u.s = {f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
  u.variant = std::string(packed);
  return u;
}

}  // namespace

// Every value of the hash `key`, HSCAN page by page (one page per round trip, so a large hash
// never makes one huge reply), within the store's timeout over all pages.
result<void> redis_experiment_store::scan_values(
    const std::string& key, const char* what, const std::function<void(const std::string&)>& fn) {
  std::string cursor = "0";
  const auto deadline = steady_clock::now() + timeout_;
  do {
    if (steady_clock::now() >= deadline) {
      return fail("read", make_error(errc::unavailable,
                                     std::string("redis: reading ") + what + " took too long"));
    }
    auto r = call({"HSCAN", key, cursor, "COUNT", std::to_string(scan_count)});
    if (!r) {
      return fail("read", r.error());
    }
    if (r->elements.size() != 2) {
      return fail("read", bad_reply("HSCAN"));
    }
    cursor = r->elements[0].str;
    for_pairs(r->elements[1], [&](const std::string&, const std::string& v) { fn(v); });
  } while (cursor != "0");
  return {};
}

result<unit_summary> redis_experiment_store::read_units(std::string_view experiment,
                                                        std::int64_t phase) {
  const std::string key = prefix_ + "u:" + std::string(experiment) + sep + std::to_string(phase);
  unit_summary out;
  auto scanned = scan_values(key, "units", [&](const std::string& v) {
    auto u = parse_unit(v);
    if (!u) {
      return;
    }
    if (u->mixed) {
      ++out.mixed;
      return;
    }
    ++out.units[u->variant];
    unit_aggregate& a = out.variants[u->variant];
    const unit_sums& s = u->s;
    a.errors.add(s.errors, s.requests);
    a.latency_ms.add(s.latency_ms, s.requests);
    a.ttft_ms.add(s.ttft_ms, s.ttft_n);
    a.cost_usd.add(s.cost_usd, s.requests);
    a.output_tokens.add(s.output_tokens, s.requests);
  });
  if (!scanned) {
    return scanned.error();
  }
  return out;
}

// ---- phases, controls, guardrails ----

result<std::vector<phase_record>> redis_experiment_store::phases(std::string_view experiment) {
  auto r = call({"HGETALL", prefix_ + "phases:" + std::string(experiment)});
  if (!r) {
    return fail("read", r.error());
  }
  std::vector<phase_record> out;
  bool malformed = false;
  for_pairs(*r, [&](const std::string&, const std::string& v) {
    boost::system::error_code ec;
    auto j = json::parse(v, ec);
    if (ec || !j.is_object()) {
      malformed = true;
      return;
    }
    const auto& o = j.as_object();
    phase_record p;
    p.experiment = std::string(experiment);
    const auto* n = o.if_contains("phase");
    const auto* s = o.if_contains("start_unix");
    const auto* reason = o.if_contains("reason");
    if (!n || !n->is_int64() || !s || !s->is_int64() || !reason || !reason->is_string() ||
        !from_json(o.if_contains("variants"), p.variants) ||
        !from_json(o.if_contains("weights"), p.weights)) {
      malformed = true;
      return;
    }
    p.phase = n->as_int64();
    p.start_unix = s->as_int64();
    p.reason = std::string(reason->as_string());
    out.push_back(std::move(p));
  });
  if (malformed) {
    return make_error(errc::internal, "experiment store (redis): the phases of '" +
                                          std::string(experiment) + "' are malformed");
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.phase < b.phase; });
  return out;
}

result<void> redis_experiment_store::add_phase(const phase_record& p) {
  const std::string v = json::serialize(json::object{{"phase", p.phase},
                                                     {"start_unix", p.start_unix},
                                                     {"variants", to_json(p.variants)},
                                                     {"weights", to_json(p.weights)},
                                                     {"reason", p.reason}});
  auto r = client_->pipeline_sync(
      {{"HSET", prefix_ + "phases:" + p.experiment, std::to_string(p.phase), v},
       {"PUBLISH", channel(), "phase " + p.experiment}},
      timeout_);
  if (!r) {
    return fail("control", r.error());
  }
  if ((*r)[0].kind == redis_reply::type::error) {
    return fail("control", make_error(errc::internal, "experiment store (redis): " + (*r)[0].str));
  }
  return {};
}

namespace {

// One stored control (a JSON object under its experiment's field); nullopt when malformed.
std::optional<experiment_control> parse_control(const std::string& experiment,
                                                const std::string& v) {
  boost::system::error_code ec;
  auto j = json::parse(v, ec);
  if (ec || !j.is_object()) {
    return std::nullopt;
  }
  const auto& o = j.as_object();
  auto str = [&](const char* name) {
    const auto* x = o.if_contains(name);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  experiment_control c;
  c.experiment = experiment;
  c.status = str("status");
  c.winner = str("winner");
  if (const auto* t = o.if_contains("updated_unix"); t && t->is_int64()) {
    c.updated_unix = t->as_int64();
  }
  if (!from_json(o.if_contains("weights"), c.weights) ||
      !from_json(o.if_contains("paused_variants"), c.paused_variants)) {
    return std::nullopt;
  }
  return c;
}

std::string serialize_control(const experiment_control& c) {
  return json::serialize(json::object{{"status", c.status},
                                      {"weights", to_json(c.weights)},
                                      {"winner", c.winner},
                                      {"paused_variants", to_json(c.paused_variants)},
                                      {"updated_unix", c.updated_unix}});
}

// Compare-and-set rounds before an edit gives up: each lost round means another replica wrote
// this control in between, so this many in a row is an edit storm, not a race.
constexpr int control_cas_attempts = 32;

// After a lost round, a jittered pause (up to 1 ms << round, capped at 32 ms) before reading
// again: without it two busy writers can keep interleaving so that one loses every round (seen
// on a loaded machine). This runs on the admin executor or a job thread, never on a worker, and
// only when another replica wrote the same control in the same instant.
void cas_backoff(int lost_rounds) {
  const auto cap_us = 1000.0 * static_cast<double>(1 << std::min(lost_rounds, 5));
  std::this_thread::sleep_for(
      std::chrono::microseconds(static_cast<std::int64_t>(random01() * cap_us)));
}

}  // namespace

result<std::vector<experiment_control>> redis_experiment_store::load_controls() {
  auto r = call({"HGETALL", prefix_ + "controls"});
  if (!r) {
    return fail("read", r.error());
  }
  std::vector<experiment_control> out;
  std::optional<std::string> malformed;
  for_pairs(*r, [&](const std::string& k, const std::string& v) {
    auto c = parse_control(k, v);
    if (!c) {
      malformed = k;
      return;
    }
    out.push_back(std::move(*c));
  });
  if (malformed) {
    return make_error(errc::internal, "experiment store (redis): load_controls: the control of '" +
                                          *malformed + "' is malformed");
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.experiment < b.experiment; });
  return out;
}

result<void> redis_experiment_store::save_control(const experiment_control& c) {
  const std::string v = serialize_control(c);
  // The announcement follows the write on the same connection: a replica that hears it reads
  // the new value.
  auto r = client_->pipeline_sync({{"HSET", prefix_ + "controls", c.experiment, v},
                                   {"PUBLISH", channel(), "control " + c.experiment}},
                                  timeout_);
  if (!r) {
    return fail("control", r.error());
  }
  if ((*r)[0].kind == redis_reply::type::error) {
    return fail("control", make_error(errc::internal, "experiment store (redis): " + (*r)[0].str));
  }
  return {};
}

// A read-modify-write of the whole control would let two replicas' edits overwrite each other
// (A sets weights while B pauses: whichever writes last drops the other's field). So the write
// is a compare-and-set in Lua against the value read; on a conflict the edit is applied again
// to what the other replica wrote.
result<experiment_control> redis_experiment_store::update_control(
    std::string_view experiment, const std::function<void(experiment_control&)>& edit) {
  const std::string key = prefix_ + "controls";
  const std::string name(experiment);
  for (int attempt = 0; attempt < control_cas_attempts; ++attempt) {
    if (attempt > 0) {
      cas_backoff(attempt);
    }
    auto r = call({"HGET", key, name});
    if (!r) {
      return fail("control", r.error());
    }
    const bool stored = r->kind == redis_reply::type::string;
    experiment_control c;
    c.experiment = name;
    if (stored) {
      auto parsed = parse_control(name, r->str);
      if (!parsed) {
        return make_error(errc::internal,
                          "experiment store (redis): the control of '" + name + "' is malformed");
      }
      c = std::move(*parsed);
    }
    edit(c);
    auto w = client_->eval_sync(control_cas_script(), {},
                                {key, name, stored ? "1" : "0", stored ? r->str : std::string(),
                                 serialize_control(c), channel(), "control " + name},
                                timeout_);
    if (!w) {
      return fail("control", w.error());
    }
    if (w->kind != redis_reply::type::integer) {
      return fail("control", make_error(errc::internal, "experiment store (redis): " + w->str));
    }
    if (w->integer == 1) {
      return c;
    }
  }
  return fail("control",
              make_error(errc::unavailable, "experiment store (redis): the control of '" + name +
                                                "' kept changing while it was being edited (" +
                                                std::to_string(control_cas_attempts) +
                                                " attempts); try again"));
}

result<void> redis_experiment_store::add_guardrail_event(const guardrail_event& e) {
  const std::string v = json::serialize(json::object{{"variant", e.variant},
                                                     {"reason", e.reason},
                                                     {"detail", e.detail},
                                                     {"unix_seconds", e.unix_seconds}});
  auto r = call({"RPUSH", prefix_ + "g:" + e.experiment, v});
  if (!r) {
    return fail("control", r.error());
  }
  return {};
}

result<std::vector<guardrail_event>> redis_experiment_store::guardrail_events(
    std::string_view experiment) {
  auto r = call({"LRANGE", prefix_ + "g:" + std::string(experiment), "0", "-1"});
  if (!r) {
    return fail("read", r.error());
  }
  std::vector<guardrail_event> out;
  for (const auto& item : r->elements) {
    boost::system::error_code ec;
    auto j = json::parse(item.str, ec);
    if (ec || !j.is_object()) {
      continue;
    }
    const auto& o = j.as_object();
    auto str = [&](const char* name) {
      const auto* x = o.if_contains(name);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    guardrail_event g{std::string(experiment), str("variant"), str("reason"), str("detail"), 0};
    if (const auto* t = o.if_contains("unix_seconds"); t && t->is_int64()) {
      g.unix_seconds = t->as_int64();
    }
    out.push_back(std::move(g));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.unix_seconds < b.unix_seconds; });
  return out;
}

result<bool> redis_experiment_store::claim_guardrail_trip(std::string_view experiment,
                                                          std::string_view variant,
                                                          std::int64_t phase) {
  auto r = call({"SET",
                 prefix_ + "trip:" + std::string(experiment) + sep + std::string(variant) + sep +
                     std::to_string(phase),
                 "1", "NX"});
  if (!r) {
    return fail("control", r.error());
  }
  return r->kind == redis_reply::type::status;  // OK; nil = another replica claimed it
}

// ---- feedback ----

result<bool> redis_experiment_store::add_feedback(const feedback_record& f) {
  pending_feedback p;
  p.key = f.request_id + sep + f.event;
  p.payload = encode_feedback(f);
  p.experiment = f.experiment;
  std::lock_guard lock(feedback_mutex_);
  if (!feedback_.empty() && !replay_feedback_locked()) {
    // Still down: keep order behind what is already buffered.
  } else if (feedback_.empty()) {
    auto r = client_->eval_sync(
        feedback_script(), {}, {prefix_, f.request_id, f.event, f.experiment, p.payload}, timeout_);
    if (r && r->kind == redis_reply::type::integer) {
      return r->integer == 1;
    }
    if (r) {
      return fail("write", make_error(errc::internal, "experiment store (redis): " + r->str));
    }
    fail("write", r.error());
  }
  // Redis did not answer: kept for the replay, which deduplicates against what Redis holds.
  if (!feedback_keys_.insert(p.key).second) {
    return false;  // a duplicate of one still buffered
  }
  const std::uint64_t size = p.payload.size() + p.key.size();
  if (buffered_bytes_.load() + size > max_bytes_) {
    feedback_keys_.erase(p.key);
    dropped_feedback_.fetch_add(1, std::memory_order_relaxed);
    if (!dropping_logged_.exchange(true)) {
      spdlog::error(
          "experiment store (redis): the buffer is full (store.buffer_max_bytes = {}); "
          "dropping new feedback (counted in switchyard_store_dropped_total)",
          max_bytes_);
    }
    return make_error(errc::unavailable, "The feedback store is unavailable; try again later.");
  }
  buffered_bytes_ += size;
  feedback_.push_back(std::move(p));
  return true;
}

bool redis_experiment_store::replay_feedback() {
  std::lock_guard lock(feedback_mutex_);
  return replay_feedback_locked();
}

bool redis_experiment_store::replay_feedback_locked() {
  while (!feedback_.empty()) {
    const pending_feedback& p = feedback_.front();
    const auto at = p.key.find(sep);
    auto r = client_->eval_sync(
        feedback_script(), {},
        {prefix_, p.key.substr(0, at), p.key.substr(at + 1), p.experiment, p.payload}, timeout_);
    if (!r) {
      fail("write", r.error());
      return false;
    }
    // Recorded, or a duplicate of one another replica recorded first: either way done.
    buffered_bytes_ -= p.payload.size() + p.key.size();
    feedback_keys_.erase(p.key);
    feedback_.pop_front();
  }
  return true;
}

result<std::vector<feedback_record>> redis_experiment_store::feedback_of(
    const std::string& experiment) {
  const std::string key = prefix_ + "f:" + experiment;
  std::vector<feedback_record> out;
  auto scanned = scan_values(key, "feedback", [&](const std::string& v) {
    if (auto f = decode_feedback(v)) {
      out.push_back(std::move(*f));
    }
  });
  if (!scanned) {
    return scanned.error();
  }
  return out;
}

namespace {

using feedback_key = std::tuple<std::int64_t, std::string, std::string, std::string>;

std::vector<feedback_summary> summarize(const std::map<feedback_key, feedback_summary>& m) {
  std::vector<feedback_summary> out;
  for (const auto& [_, s] : m) {
    out.push_back(s);
  }
  return out;
}

void count_into(std::map<feedback_key, feedback_summary>& m, const feedback_record& f,
                std::int64_t hour, const std::string& variant) {
  feedback_summary& s = m[{hour, variant, f.prompt_version, f.event}];
  s.variant = variant;
  s.prompt_version = f.prompt_version;
  s.event = f.event;
  s.hour = hour;
  ++s.count;
  if (f.value) {
    s.value.add(*f.value);
  }
}

}  // namespace

result<std::vector<feedback_summary>> redis_experiment_store::read_feedback(
    std::string_view experiment, bool per_hour) {
  auto all = feedback_of(std::string(experiment));
  if (!all) {
    return all.error();
  }
  std::map<feedback_key, feedback_summary> m;
  for (const auto& f : *all) {
    count_into(m, f, per_hour ? hour_of(f.unix_seconds) : 0, f.variant);
  }
  return summarize(m);
}

result<std::vector<feedback_summary>> redis_experiment_store::read_feedback_between(
    std::string_view experiment, std::int64_t from_unix, std::int64_t to_unix) {
  auto all = feedback_of(std::string(experiment));
  if (!all) {
    return all.error();
  }
  std::map<feedback_key, feedback_summary> m;
  for (const auto& f : *all) {
    if (f.unix_seconds >= from_unix && f.unix_seconds < to_unix) {
      count_into(m, f, 0, f.variant);
    }
  }
  return summarize(m);
}

result<std::map<std::string, unit_aggregate>> redis_experiment_store::read_feedback_units(
    std::string_view experiment, std::int64_t phase, std::int64_t from_unix, std::int64_t to_unix) {
  auto all = feedback_of(std::string(experiment));
  if (!all) {
    return all.error();
  }
  struct per_unit {
    double s = 0, j = 0, v = 0, vn = 0;
  };
  std::map<std::pair<std::string, std::uint64_t>, per_unit> units;
  for (const auto& f : *all) {
    if (f.unit == 0 || f.unix_seconds < from_unix || f.unix_seconds >= to_unix) {
      continue;
    }
    per_unit& u = units[{f.variant, f.unit}];
    u.s += f.event == "success" ? 1 : 0;
    u.j += f.event == "success" || f.event == "failure" ? 1 : 0;
    if (f.value) {
      u.v += *f.value;
      u.vn += 1;
    }
  }
  // The units mixed in this phase are left out, as in the per-request analysis.
  std::vector<std::uint64_t> fps;
  for (const auto& [k, _] : units) {
    if (fps.empty() || fps.back() != k.second) {
      fps.push_back(k.second);
    }
  }
  std::sort(fps.begin(), fps.end());
  fps.erase(std::unique(fps.begin(), fps.end()), fps.end());
  std::set<std::uint64_t> mixed;
  if (!fps.empty()) {
    std::vector<std::string> cmd{
        "HMGET", prefix_ + "u:" + std::string(experiment) + sep + std::to_string(phase)};
    for (auto fp : fps) {
      cmd.push_back(std::to_string(fp));
    }
    auto r = call(std::move(cmd));
    if (!r) {
      return fail("read", r.error());
    }
    for (std::size_t i = 0; i < fps.size() && i < r->elements.size(); ++i) {
      if (auto u = parse_unit(r->elements[i].str); u && u->mixed) {
        mixed.insert(fps[i]);
      }
    }
  }
  std::map<std::string, unit_aggregate> out;
  for (const auto& [k, u] : units) {
    if (mixed.contains(k.second)) {
      continue;
    }
    unit_aggregate& a = out[k.first];
    if (u.j > 0) {
      a.success.add(u.s, u.j);
    } else {
      // Units with no judged event add zeros to the sums (SQL's TOTAL over them).
    }
    if (u.vn > 0) {
      a.score.add(u.v, u.vn);
    }
  }
  return out;
}

result<std::vector<feedback_summary>> redis_experiment_store::read_prompt_feedback(
    std::string_view prompt_name) {
  auto names = experiments();
  if (!names) {
    return names.error();
  }
  const std::string want = std::string(prompt_name) + "@";
  std::map<feedback_key, feedback_summary> m;
  for (const auto& e : *names) {
    auto all = feedback_of(e);
    if (!all) {
      return all.error();
    }
    for (const auto& f : *all) {
      if (f.prompt_version.starts_with(want)) {
        count_into(m, f, 0, "");
      }
    }
  }
  // Ordered by prompt_version, event: the key's hour and variant are constant here.
  return summarize(m);
}

// ---- prompt registry: one hash, field name + sep + version, value {hash, body, created_unix} ----

result<std::vector<stored_prompt_version>> redis_experiment_store::load_prompt_versions() {
  auto r = call({"HGETALL", prefix_ + "prompts"});
  if (!r) {
    return fail("read", r.error());
  }
  std::vector<stored_prompt_version> out;
  std::optional<std::string> malformed;
  for_pairs(*r, [&](const std::string& k, const std::string& v) {
    const auto parts = split(k, sep);
    boost::system::error_code ec;
    auto j = json::parse(v, ec);
    const json::object* o = !ec && j.is_object() ? &j.as_object() : nullptr;
    const json::value* hash = o ? o->if_contains("hash") : nullptr;
    const json::value* body = o ? o->if_contains("body") : nullptr;
    const json::value* created = o ? o->if_contains("created_unix") : nullptr;
    if (parts.size() != 2 || !hash || !hash->is_string() || !body || !body->is_string() ||
        !created || !created->is_int64()) {
      malformed = k;
      return;
    }
    out.push_back({parts[0], parts[1], std::string(hash->as_string()),
                   std::string(body->as_string()), created->as_int64()});
  });
  if (malformed) {
    return make_error(errc::internal,
                      "experiment store (redis): load_prompt_versions: the entry '" + *malformed +
                          "' is malformed");
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.name, a.created_unix, a.version) <
           std::tie(b.name, b.created_unix, b.version);
  });
  return out;
}

result<void> redis_experiment_store::put_prompt_versions(
    std::span<const stored_prompt_version> versions) {
  std::vector<std::string> args{prefix_};
  for (const auto& v : versions) {
    args.push_back(v.name + sep + v.version);
    args.push_back(v.hash);
    args.push_back(json::serialize(
        json::object{{"hash", v.hash}, {"body", v.body}, {"created_unix", v.created_unix}}));
  }
  auto r = client_->eval_sync(put_prompts_script(), {}, std::move(args), timeout_);
  if (!r) {
    return fail("control", r.error());
  }
  if (r->kind == redis_reply::type::array && r->elements.size() == 2) {
    std::string field = r->elements[0].str;
    std::replace(field.begin(), field.end(), sep, '@');
    return make_error(errc::conflict, field + " already exists with hash " + r->elements[1].str);
  }
  if (r->kind != redis_reply::type::integer) {
    return fail("control", r->kind == redis_reply::type::error
                               ? make_error(errc::internal, "experiment store (redis): " + r->str)
                               : bad_reply("put_prompts"));
  }
  return {};
}

result<std::uint64_t> redis_experiment_store::delete_prompt_versions(std::string_view name,
                                                                     std::string_view version) {
  result<redis_reply> r =
      version.empty()
          ? client_->eval_sync(delete_prompt_script(), {}, {prefix_, std::string(name) + sep},
                               timeout_)
          : call({"HDEL", prefix_ + "prompts", std::string(name) + sep + std::string(version)});
  if (!r) {
    return fail("control", r.error());
  }
  if (r->kind != redis_reply::type::integer) {
    return fail("control", r->kind == redis_reply::type::error
                               ? make_error(errc::internal, "experiment store (redis): " + r->str)
                               : bad_reply("delete_prompt"));
  }
  return static_cast<std::uint64_t>(r->integer);
}

}  // namespace switchyard
