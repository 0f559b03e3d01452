#pragma once

// Header fields written once, for the headers the gateway adds to a response and for the
// header blocks it sends. Beast's `http::fields` allocates one element per field; these keep
// their storage across requests (`clear` keeps the capacity), so that a connection's requests
// stop allocating once the first has sized them.

#include <boost/beast/core/string.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

/// Fields that own their text: "name: value\r\n" lines in one string. `set` replaces a field of
/// the same name (case-insensitively), like `http::fields::set`; the order is the order of
/// first insertion of the surviving fields.
class header_block {
 public:
  /// Sets `name` to `value` (trimmed of spaces and tabs, as Beast does), replacing any field of
  /// that name; the field moves to the end, as with `http::fields::set`.
  void set(std::string_view name, std::string_view value);
  /// Removes every field named `name`.
  void erase(std::string_view name) noexcept;
  /// The value of `name`, empty when absent.
  std::string_view operator[](std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept;
  bool empty() const noexcept { return text_.empty(); }
  std::size_t size() const noexcept;  // fields
  void clear() noexcept { text_.clear(); }
  /// The fields as rendered: "name: value\r\n" each.
  std::string_view text() const noexcept { return text_; }
  void swap(header_block& o) noexcept { text_.swap(o.text_); }

  /// Calls `f(name, value)` for each field, in order.
  template <class F>
  void for_each(F&& f) const {
    std::string_view rest = text_;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto eol = rest.find('\r', colon);
      f(rest.substr(0, colon), rest.substr(colon + 2, eol - colon - 2));
      rest.remove_prefix(eol + 2);
    }
  }

 private:
  std::string text_;
};

/// An ordered list of header fields, with `http::fields`' semantics: `insert` appends, `set`
/// replaces every field of that name (case-insensitively) and appends. Names and most values are
/// views into text that outlives the list (a parsed message, the config, a `header_block`);
/// `set_copy` / `set_joined` copy a computed value into the list's own storage. Rendered once,
/// into one contiguous header block. Storage and capacity are kept across `clear`.
class header_list {
 public:
  void clear() noexcept {
    fields_.clear();
    store_.clear();
  }
  void insert(std::string_view name, std::string_view value);
  void set(std::string_view name, std::string_view value);
  /// `set` with a value copied into the list (a number formatted on the stack, say).
  void set_copy(std::string_view name, std::string_view value);
  /// `set_copy` of the concatenation of `parts`.
  void set_joined(std::string_view name, std::initializer_list<std::string_view> parts);
  void erase(std::string_view name) noexcept;
  /// The first value of `name`, empty when absent.
  std::string_view operator[](std::string_view name) const noexcept;
  std::size_t count(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return fields_.size(); }

  /// Calls `f(name, value)` for each field, in order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& e : fields_) {
      f(e.name, value_of(e));
    }
  }

  /// Appends "name: value\r\n" for each field to `out`.
  void render(std::string& out) const;

 private:
  struct field {
    std::string_view name;
    std::string_view value;                       // when not stored
    std::size_t stored = std::string_view::npos;  // offset of the value in store_
    std::size_t length = 0;
  };
  std::string_view value_of(const field& f) const noexcept {
    return f.stored == std::string_view::npos ? f.value
                                              : std::string_view(store_).substr(f.stored, f.length);
  }

  std::vector<field> fields_;
  std::string store_;  // copied values; offsets, not views, so that growing it is harmless
};

/// Trims leading and trailing spaces and tabs (what Beast does to every field value it stores).
std::string_view trim_field_value(std::string_view v) noexcept;

}  // namespace switchyard
