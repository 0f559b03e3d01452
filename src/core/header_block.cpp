#include "switchyard/core/header_block.hpp"

#include <algorithm>

namespace switchyard {

std::string_view trim_field_value(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

void header_block::set(std::string_view name, std::string_view value) {
  erase(name);
  value = trim_field_value(value);
  text_.reserve(text_.size() + name.size() + value.size() + 4);
  text_.append(name);
  text_.append(": ");
  text_.append(value);
  text_.append("\r\n");
}

void header_block::erase(std::string_view name) noexcept {
  std::size_t at = 0;
  while (at < text_.size()) {
    const auto colon = text_.find(':', at);
    const auto end = text_.find('\n', colon) + 1;
    if (boost::beast::iequals(std::string_view(text_).substr(at, colon - at), name)) {
      text_.erase(at, end - at);
    } else {
      at = end;
    }
  }
}

std::string_view header_block::operator[](std::string_view name) const noexcept {
  std::string_view found;
  bool seen = false;
  for_each([&](std::string_view n, std::string_view v) {
    if (!seen && boost::beast::iequals(n, name)) {
      found = v;
      seen = true;
    }
  });
  return found;
}

bool header_block::contains(std::string_view name) const noexcept {
  bool seen = false;
  for_each(
      [&](std::string_view n, std::string_view) { seen = seen || boost::beast::iequals(n, name); });
  return seen;
}

std::size_t header_block::size() const noexcept {
  return static_cast<std::size_t>(std::count(text_.begin(), text_.end(), '\n'));
}

void header_list::insert(std::string_view name, std::string_view value) {
  fields_.push_back({name, trim_field_value(value)});
}

void header_list::set(std::string_view name, std::string_view value) {
  erase(name);
  insert(name, value);
}

void header_list::set_copy(std::string_view name, std::string_view value) {
  set_joined(name, {value});
}

void header_list::set_joined(std::string_view name, std::initializer_list<std::string_view> parts) {
  erase(name);
  const std::size_t at = store_.size();
  for (std::string_view p : parts) {
    store_.append(p);
  }
  const std::string_view v = trim_field_value(std::string_view(store_).substr(at));
  const std::size_t lead = static_cast<std::size_t>(v.data() - (store_.data() + at));
  fields_.push_back({name, {}, at + lead, v.size()});
}

void header_list::erase(std::string_view name) noexcept {
  std::erase_if(fields_, [&](const field& f) { return boost::beast::iequals(f.name, name); });
}

std::string_view header_list::operator[](std::string_view name) const noexcept {
  for (const auto& f : fields_) {
    if (boost::beast::iequals(f.name, name)) {
      return value_of(f);
    }
  }
  return {};
}

std::size_t header_list::count(std::string_view name) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(fields_.begin(), fields_.end(),
                    [&](const field& f) { return boost::beast::iequals(f.name, name); }));
}

void header_list::render(std::string& out) const {
  std::size_t bytes = 0;
  for (const auto& f : fields_) {
    bytes += f.name.size() + value_of(f).size() + 4;
  }
  out.reserve(out.size() + bytes);
  for (const auto& f : fields_) {
    out.append(f.name);
    out.append(": ");
    out.append(value_of(f));
    out.append("\r\n");
  }
}

}  // namespace switchyard
