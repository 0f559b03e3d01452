#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace switchyard {

/// A prompt version: text with `{{variable}}` placeholders, filled per request from the request's
/// `metadata`. Parsed once at config load into literal and variable parts, so rendering is a
/// lookup per variable, one reserve and a few appends.
///
/// Placeholder syntax: `{{`, optional spaces or tabs, a name matching [A-Za-z_][A-Za-z0-9_.-]*,
/// optional spaces or tabs, `}}`. Single braces and a lone `}}` are literal text. There is no
/// escape for a literal `{{`.
class prompt_template {
 public:
  /// Resolves a variable name to its value for this request; nullopt when not given. The returned
  /// view must stay valid until the render call returns.
  using lookup_fn = std::function<std::optional<std::string_view>(std::string_view)>;

  /// A non-owning reference to a lookup (any callable, a `lookup_fn` included, or nullptr for
  /// none), so that the request path passes a lambda without a std::function (whose captures
  /// beyond 16 bytes are heap-allocated). The callable must outlive the render call.
  class lookup_ref {
   public:
    lookup_ref(std::nullptr_t) noexcept {}  // NOLINT: converts like a function pointer
    template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, lookup_ref> &&
             std::is_invocable_r_v<std::optional<std::string_view>, const F&, std::string_view>)
        lookup_ref(const F& f)
    noexcept  // NOLINT: converts like a function pointer
        : object_(static_cast<const void*>(std::addressof(f))),
          call_([](const void* o, std::string_view name) -> std::optional<std::string_view> {
            return (*static_cast<const F*>(o))(name);
          }) {
      if constexpr (std::is_constructible_v<bool, const F&>) {
        if (!static_cast<bool>(f)) {
          call_ = nullptr;  // an empty std::function (or a null function pointer): no lookup
        }
      }
    }
    explicit operator bool() const noexcept { return call_ != nullptr; }
    std::optional<std::string_view> operator()(std::string_view name) const {
      return call_(object_, name);
    }

   private:
    const void* object_ = nullptr;
    std::optional<std::string_view> (*call_)(const void*, std::string_view) = nullptr;
  };
  using defaults_map = std::map<std::string, std::string, std::less<>>;

  /// Parses `text`. Errors (errc::invalid_request) name the byte offset of the offending `{{`:
  /// "unclosed {{ at offset 12", "empty variable name at offset 3", "invalid variable name `a b`
  /// at offset 0".
  static result<prompt_template> parse(std::string_view text);

  /// Distinct variable names in order of first use.
  const std::vector<std::string>& variables() const noexcept { return variables_; }

  /// The text `parse` was given.
  const std::string& text() const noexcept { return text_; }

  /// Fills every placeholder with `lookup(name)`, else `defaults[name]`. A variable found in
  /// neither is an errc::invalid_request error with param "metadata.<name>" and the message
  /// "prompt `<prompt_ref>` needs variable `<name>`: send it in metadata.<name>". The output is
  /// raw text; the caller escapes it for its context (JSON).
  result<std::string> render(lookup_ref lookup, const defaults_map& defaults,
                             std::string_view prompt_ref) const;

  /// Same as `render`, appending to `out` (the hot path splices into a JSON string being built).
  /// On error `out` is unchanged.
  result<void> render_to(std::string& out, lookup_ref lookup, const defaults_map& defaults,
                         std::string_view prompt_ref) const;

 private:
  static constexpr std::size_t literal = static_cast<std::size_t>(-1);

  // A run of literal text (a slice of text_) or one placeholder (an index into variables_).
  struct part {
    std::size_t offset = 0;
    std::size_t length = 0;
    std::size_t variable = literal;
  };

  std::string text_;
  std::vector<part> parts_;
  std::vector<std::string> variables_;
  std::size_t literal_size_ = 0;  // total literal bytes, for the reserve
};

/// "sha256:" + lowercase hex of SHA-256(`text`): identifies a prompt version by content, so a
/// changed text under an unchanged version name is detectable.
std::string content_hash(std::string_view text);

/// A line-based unified diff of `a` against `b` in the format of `diff -u` (3 lines of context,
/// headers `--- a_name` / `+++ b_name` without timestamps, `@@ -l,s +l,s @@` hunks, "\ No newline
/// at end of file" markers); "" when the texts are equal. The diff is minimal (a longest common
/// subsequence of lines, Hirschberg's linear-space algorithm) and inserted or deleted runs are
/// placed as GNU diff places them, but where several equally short diffs exist it may still pick
/// another one than GNU diff. When either side has more than 5000 lines it returns a one-line
/// note instead of diffing.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name,
                         std::string_view b_name);

}  // namespace switchyard
