#pragma once
// `switchyard batch status ID [--url URL] [--token T] [--watch]`: a batch's progress from a
// running gateway's Batch API, as a progress bar on a terminal and as plain lines otherwise.

#include <boost/json/object.hpp>

#include <string>

namespace switchyard {

/// One line describing a Batch object `b` (as GET /v1/batches/{id} answers it): with a bar of
/// `width` cells when `bar`, plain `key=value` words otherwise. Pure.
std::string render_batch_progress(const boost::json::object& b, bool bar, int width = 30);

/// The `batch` subcommand; `argv[0]` is "batch". Returns the exit status (0; 1 when the gateway
/// cannot be reached or answers an error; 2 for bad arguments).
int batch_command(int argc, char** argv);

}  // namespace switchyard
