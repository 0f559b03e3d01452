#include "switchyard/experiments/prompt_template.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <span>
#include <stdexcept>
#include <unordered_map>

namespace switchyard {

namespace {

bool is_name_start(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) noexcept {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

bool is_valid_name(std::string_view name) noexcept {
  return !name.empty() && is_name_start(name[0]) &&
         std::all_of(name.begin() + 1, name.end(), is_name_char);
}

std::string_view trim_blanks(std::string_view s) noexcept {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

error parse_error(std::string what, std::size_t offset) {
  return make_error(errc::invalid_request, what + " at offset " + std::to_string(offset));
}

}  // namespace

result<prompt_template> prompt_template::parse(std::string_view text) {
  prompt_template t;
  t.text_ = std::string(text);
  const auto add_literal = [&t](std::size_t offset, std::size_t length) {
    if (length > 0) {
      t.parts_.push_back(part{offset, length, literal});
      t.literal_size_ += length;
    }
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      add_literal(pos, text.size() - pos);
      break;
    }
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return parse_error("unclosed {{", open);
    }
    const std::string_view name = trim_blanks(text.substr(open + 2, close - open - 2));
    if (name.empty()) {
      return parse_error("empty variable name", open);
    }
    if (!is_valid_name(name)) {
      // Quoted so that the author sees what was taken as the name; bounded for the log line.
      return parse_error("invalid variable name `" + std::string(name.substr(0, 40)) + "`", open);
    }
    add_literal(pos, open - pos);
    const auto known = std::find(t.variables_.begin(), t.variables_.end(), name);
    const auto index = static_cast<std::size_t>(known - t.variables_.begin());
    if (known == t.variables_.end()) {
      t.variables_.emplace_back(name);
    }
    t.parts_.push_back(part{open, close + 2 - open, index});
    pos = close + 2;
  }
  return t;
}

result<void> prompt_template::render_to(std::string& out, lookup_ref lookup,
                                        const defaults_map& defaults,
                                        std::string_view prompt_ref) const {
  // Resolve every variable before touching `out`, so an error leaves it unchanged. Prompts have a
  // handful of variables: keep their values on the stack.
  std::array<std::string_view, 16> small;
  std::vector<std::string_view> large;
  if (variables_.size() > small.size()) {
    large.resize(variables_.size());
  }
  const std::span<std::string_view> values =
      large.empty() ? std::span<std::string_view>(small.data(), variables_.size())
                    : std::span<std::string_view>(large);
  for (std::size_t i = 0; i < variables_.size(); ++i) {
    const std::string& name = variables_[i];
    std::optional<std::string_view> v = lookup ? lookup(name) : std::nullopt;
    if (!v) {
      const auto d = defaults.find(name);
      if (d == defaults.end()) {
        std::string prompt =
            prompt_ref.empty() ? "prompt" : "prompt `" + std::string(prompt_ref) + "`";
        return make_error(errc::invalid_request,
                          prompt + " needs variable `" + name + "`: send it in metadata." + name,
                          "metadata." + name);
      }
      v = d->second;
    }
    values[i] = *v;
  }
  std::size_t size = literal_size_;
  for (const part& p : parts_) {
    if (p.variable != literal) {
      size += values[p.variable].size();
    }
  }
  out.reserve(out.size() + size);
  for (const part& p : parts_) {
    if (p.variable == literal) {
      out.append(text_, p.offset, p.length);
    } else {
      out.append(values[p.variable]);
    }
  }
  return {};
}

result<std::string> prompt_template::render(lookup_ref lookup, const defaults_map& defaults,
                                            std::string_view prompt_ref) const {
  std::string out;
  if (auto r = render_to(out, lookup, defaults, prompt_ref); !r) {
    return r.error();
  }
  return out;
}

std::string content_hash(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(text.data(), text.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");  // only without a usable libcrypto
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "sha256:";
  out.reserve(out.size() + 2 * md_len);
  for (unsigned int i = 0; i < md_len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

namespace {

constexpr std::size_t context_lines = 3;
constexpr std::size_t max_diff_lines = 5000;
constexpr std::size_t unmatched = static_cast<std::size_t>(-1);

std::size_t count_lines(std::string_view s) noexcept {
  const auto newlines = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
  return newlines + (!s.empty() && s.back() != '\n' ? 1 : 0);
}

// Each line keeps its '\n' (the last one may have none), so two lines compare equal exactly when
// diff -u would treat them as equal, "No newline at end of file" included.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t nl = s.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    lines.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}

// A longest common subsequence of two line-id sequences by Hirschberg's divide and conquer:
// O(n·m) time but O(n + m) memory, so the 5000-line bound keeps both small.
class lcs_finder {
 public:
  lcs_finder(const std::vector<int>& a, const std::vector<int>& b)
      : a_(a), b_(b), match_(a.size(), unmatched), fwd_(b.size() + 1), bwd_(b.size() + 1) {}

  /// For each line of `a`, the line of `b` it is matched with, or `unmatched`.
  std::vector<std::size_t> run() && {
    solve(0, a_.size(), 0, b_.size());
    return std::move(match_);
  }

 private:
  void solve(std::size_t alo, std::size_t ahi, std::size_t blo, std::size_t bhi) {
    while (alo < ahi && blo < bhi && a_[alo] == b_[blo]) {
      match_[alo++] = blo++;
    }
    while (alo < ahi && blo < bhi && a_[ahi - 1] == b_[bhi - 1]) {
      match_[--ahi] = --bhi;
    }
    if (alo == ahi || blo == bhi) {
      return;
    }
    if (ahi - alo == 1) {
      const auto it = std::find(b_.begin() + static_cast<std::ptrdiff_t>(blo),
                                b_.begin() + static_cast<std::ptrdiff_t>(bhi), a_[alo]);
      if (it != b_.begin() + static_cast<std::ptrdiff_t>(bhi)) {
        match_[alo] = static_cast<std::size_t>(it - b_.begin());
      }
      return;
    }
    const std::size_t mid = alo + (ahi - alo) / 2;
    const std::size_t m = bhi - blo;
    // fwd_[j] = LCS(a[alo, mid), b[blo, blo + j)); bwd_[j] = LCS(a[mid, ahi), b[blo + j, bhi)).
    std::fill(fwd_.begin(), fwd_.begin() + static_cast<std::ptrdiff_t>(m + 1), 0);
    for (std::size_t i = alo; i < mid; ++i) {
      std::uint32_t diag = 0;
      for (std::size_t j = 1; j <= m; ++j) {
        const std::uint32_t up = fwd_[j];
        fwd_[j] = a_[i] == b_[blo + j - 1] ? diag + 1 : std::max(up, fwd_[j - 1]);
        diag = up;
      }
    }
    std::fill(bwd_.begin(), bwd_.begin() + static_cast<std::ptrdiff_t>(m + 1), 0);
    for (std::size_t i = ahi; i-- > mid;) {
      std::uint32_t diag = 0;
      for (std::size_t j = m; j-- > 0;) {
        const std::uint32_t down = bwd_[j];
        bwd_[j] = a_[i] == b_[blo + j] ? diag + 1 : std::max(down, bwd_[j + 1]);
        diag = down;
      }
    }
    std::size_t split = 0;
    for (std::size_t j = 1; j <= m; ++j) {
      if (fwd_[j] + bwd_[j] > fwd_[split] + bwd_[split]) {
        split = j;
      }
    }
    solve(alo, mid, blo, blo + split);
    solve(mid, ahi, blo + split, bhi);
  }

  const std::vector<int>& a_;
  const std::vector<int>& b_;
  std::vector<std::size_t> match_;
  std::vector<std::uint32_t> fwd_;
  std::vector<std::uint32_t> bwd_;
};

// Lines [a0, a1) of a replaced by lines [b0, b1) of b; one side may be empty.
struct change {
  std::size_t a0, a1, b0, b1;
};

// Among equally short diffs, an inserted or deleted run inside repeated lines (blank lines between
// paragraphs, typically) can sit at several places. Like GNU diff, prefer a place where it merges
// with the change before it, then one where it merges with the change after it, else the lowest.
// Sliding only moves the run across lines equal to its own, so the diff stays minimal and valid.
void slide_pure_changes(std::vector<change>& cs, const std::vector<int>& a,
                        const std::vector<int>& b) {
  // Every merge removes a change, and every other step moves on: at most 2·size steps.
  for (std::size_t k = 0; k < cs.size();) {
    const bool deletion = cs[k].b0 == cs[k].b1;
    if (!deletion && cs[k].a0 != cs[k].a1) {
      ++k;  // a replacement has no single side to slide
      continue;
    }
    const std::vector<int>& ids = deletion ? a : b;
    const auto lo_of = [deletion](const change& c) { return deletion ? c.a0 : c.b0; };
    const auto hi_of = [deletion](const change& c) { return deletion ? c.a1 : c.b1; };
    const std::size_t lo = lo_of(cs[k]);
    const std::size_t hi = hi_of(cs[k]);
    const std::size_t floor = k > 0 ? hi_of(cs[k - 1]) : 0;
    const std::size_t ceiling = k + 1 < cs.size() ? lo_of(cs[k + 1]) : ids.size();
    std::size_t up = 0;
    while (lo - up > floor && ids[lo - up - 1] == ids[hi - up - 1]) {
      ++up;
    }
    std::size_t down = 0;
    while (hi + down < ceiling && ids[lo + down] == ids[hi + down]) {
      ++down;
    }
    change& c = cs[k];
    if (k > 0 && lo - up == floor) {
      cs[k - 1].a1 = c.a1 - up;
      cs[k - 1].b1 = c.b1 - up;
      cs.erase(cs.begin() + static_cast<std::ptrdiff_t>(k));
      --k;  // the merged change may slide further
      continue;
    }
    c = change{c.a0 + down, c.a1 + down, c.b0 + down, c.b1 + down};
    if (k + 1 < cs.size() && hi + down == ceiling) {
      cs[k + 1].a0 = c.a0;
      cs[k + 1].b0 = c.b0;
      cs.erase(cs.begin() + static_cast<std::ptrdiff_t>(k));
      continue;  // the merged change, now at k, may slide further
    }
    ++k;
  }
}

std::vector<change> changes_between(const std::vector<std::string_view>& a,
                                    const std::vector<std::string_view>& b) {
  std::unordered_map<std::string_view, int> ids;
  const auto to_ids = [&ids](const std::vector<std::string_view>& lines) {
    std::vector<int> out;
    out.reserve(lines.size());
    for (std::string_view line : lines) {
      out.push_back(ids.emplace(line, static_cast<int>(ids.size())).first->second);
    }
    return out;
  };
  const std::vector<int> a_ids = to_ids(a);
  const std::vector<int> b_ids = to_ids(b);
  const std::vector<std::size_t> match = lcs_finder(a_ids, b_ids).run();
  std::vector<change> changes;
  std::size_t i = 0;
  std::size_t j = 0;
  for (;;) {
    std::size_t next_i = i;
    while (next_i < a.size() && match[next_i] == unmatched) {
      ++next_i;
    }
    const std::size_t next_j = next_i < a.size() ? match[next_i] : b.size();
    if (next_i > i || next_j > j) {
      changes.push_back(change{i, next_i, j, next_j});
    }
    if (next_i == a.size()) {
      break;
    }
    i = next_i + 1;
    j = next_j + 1;
  }
  slide_pure_changes(changes, a_ids, b_ids);
  return changes;
}

// GNU diff's range: "l" for one line, "l,s" otherwise, and for an empty range the line before.
std::string hunk_range(std::size_t lo, std::size_t size) {
  if (size == 1) {
    return std::to_string(lo + 1);
  }
  return std::to_string(size == 0 ? lo : lo + 1) + "," + std::to_string(size);
}

void emit_lines(std::string& out, char prefix, const std::vector<std::string_view>& lines,
                std::size_t from, std::size_t to) {
  for (std::size_t k = from; k < to; ++k) {
    out += prefix;
    out += lines[k];
    if (lines[k].back() != '\n') {
      out += "\n\\ No newline at end of file\n";
    }
  }
}

}  // namespace

std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name,
                         std::string_view b_name) {
  if (a == b) {
    return "";
  }
  const std::size_t a_count = count_lines(a);
  const std::size_t b_count = count_lines(b);
  if (a_count > max_diff_lines || b_count > max_diff_lines) {
    return "diff not shown: " + std::string(a_name) + " has " + std::to_string(a_count) +
           " lines and " + std::string(b_name) + " has " + std::to_string(b_count) + " (limit " +
           std::to_string(max_diff_lines) + ")\n";
  }
  const std::vector<std::string_view> al = split_lines(a);
  const std::vector<std::string_view> bl = split_lines(b);
  const std::vector<change> changes = changes_between(al, bl);
  std::string out = "--- " + std::string(a_name) + "\n+++ " + std::string(b_name) + "\n";
  for (std::size_t first = 0; first < changes.size();) {
    // Changes separated by at most two contexts' worth of equal lines share a hunk, as in diff -u.
    std::size_t last = first;
    while (last + 1 < changes.size() &&
           changes[last + 1].a0 - changes[last].a1 <= 2 * context_lines) {
      ++last;
    }
    // The equal runs around a hunk have the same length on both sides.
    const std::size_t before = std::min(context_lines, changes[first].a0);
    const std::size_t after = std::min(context_lines, al.size() - changes[last].a1);
    const std::size_t a_lo = changes[first].a0 - before;
    const std::size_t b_lo = changes[first].b0 - before;
    const std::size_t a_hi = changes[last].a1 + after;
    const std::size_t b_hi = changes[last].b1 + after;
    out += "@@ -" + hunk_range(a_lo, a_hi - a_lo) + " +" + hunk_range(b_lo, b_hi - b_lo) + " @@\n";
    std::size_t pos = a_lo;
    for (std::size_t c = first; c <= last; ++c) {
      emit_lines(out, ' ', al, pos, changes[c].a0);
      emit_lines(out, '-', al, changes[c].a0, changes[c].a1);
      emit_lines(out, '+', bl, changes[c].b0, changes[c].b1);
      pos = changes[c].a1;
    }
    emit_lines(out, ' ', al, pos, a_hi);
    first = last + 1;
  }
  return out;
}

}  // namespace switchyard
