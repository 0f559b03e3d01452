#pragma once

// The JSON checks of evaluation assertions: a subset of JSON Schema (draft 2020-12 keywords,
// docs/evaluations.md lists them) and a simple JSON path (`$.a.b[0]`). Pure.

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchyard {

/// Why `schema` cannot be used ("properties.name: unsupported keyword `pattern`"), or nullopt.
/// Supported: type (a name or a list), properties, required, additionalProperties (boolean or a
/// schema), items, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
/// maxLength, minItems, maxItems; title, description and $schema are ignored.
std::optional<std::string> schema_problem(const boost::json::value& schema);

/// The first way `v` violates `schema` ("$.items[2].price: must be ≥ 0"), or nullopt when it
/// conforms. `schema` must have passed schema_problem.
std::optional<std::string> schema_violation(const boost::json::value& schema,
                                            const boost::json::value& v);

/// One step of a JSON path: a member name or an array index.
using json_path_step = std::variant<std::string, std::size_t>;

/// Parses `$`, `$.a`, `$.a.b[0]`, `$['a b'][1]`; nullopt when it is not such a path.
std::optional<std::vector<json_path_step>> parse_json_path(std::string_view path);

/// The value at `path` in `v`, or nullptr when a step is missing.
const boost::json::value* at_json_path(const boost::json::value& v,
                                       const std::vector<json_path_step>& path);

/// JSON equality where numbers compare by value (1 == 1.0), objects by members in any order.
bool json_equal(const boost::json::value& a, const boost::json::value& b);

}  // namespace switchyard
