#pragma once
// Validation of a Batch API input file as OpenAI does it (docs/batches.md "Validation"): the
// file read line by line with a fixed bound per line, each line checked (batch_line.hpp), one
// model per batch, at most `max_lines` requests, and the BatchError list of a failed batch with
// 1-based line numbers. Pure apart from reading the FILE it is given.

#include "switchyard/jobs/batch_store.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// Reads a file line by line: a line longer than `max` bytes is reported as too long (and
/// skipped to its end), never held. Offsets are byte offsets of each line's start.
class line_reader {
 public:
  struct line {
    std::uint64_t offset = 0;
    std::string text;  // without the newline; empty when too_long
    bool too_long = false;
  };
  line_reader(std::FILE* f, std::size_t max) noexcept : f_(f), max_(max) {}
  /// The next line, or nullopt at the end of the file.
  std::optional<line> next();

 private:
  std::FILE* f_;
  std::size_t max_;
  std::uint64_t offset_ = 0;
};

/// Errors listed in a failed batch's `errors.data` (then one `too_many_errors` entry counts the
/// rest): a file of 50,000 bad lines must not make a 50,000-entry Batch object.
inline constexpr std::size_t max_listed_errors = 100;

/// The verdict on a file, built line by line.
class batch_validation {
 public:
  batch_validation(std::string endpoint, std::uint64_t max_lines, std::uint64_t max_line_bytes)
      : endpoint_(std::move(endpoint)), max_lines_(max_lines), max_line_bytes_(max_line_bytes) {}

  /// The next physical line (numbered from 1 by the order of calls): the reference to store
  /// when it is a valid request; nullopt for a blank line or an error (recorded).
  std::optional<batch_line_ref> add(const line_reader::line& l);
  /// `line_no` repeats an earlier custom_id (the store found it).
  void duplicate(std::int64_t line_no);
  /// A problem of the whole file (`empty_file`, `invalid_file`).
  void file_error(std::string_view code, std::string_view message);
  /// The end of the file: `empty_file` when it held no request.
  void finish();

  /// More lines would be pointless (max_lines exceeded).
  bool stopped() const noexcept { return stopped_; }
  bool failed() const noexcept { return count_ > 0; }
  std::uint64_t requests() const noexcept { return requests_; }
  const std::string& model() const noexcept { return model_; }
  /// The BatchError array as JSON text (`[{code, message, param, line}, …]`).
  std::string errors_json() const;

 private:
  void add_error(std::string_view code, std::string_view message, std::string_view param,
                 std::int64_t line);
  std::string endpoint_;
  std::uint64_t max_lines_, max_line_bytes_;
  std::int64_t line_no_ = 0;
  std::uint64_t requests_ = 0;
  std::string model_;
  std::vector<std::string> errors_;  // serialised entries, at most max_listed_errors
  std::size_t count_ = 0;
  bool stopped_ = false;
};

}  // namespace switchyard
