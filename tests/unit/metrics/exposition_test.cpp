#include "switchyard/metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchyard::metrics {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

std::string label_value(std::string_view v) {
  std::string out;
  append_label_value(out, v);
  return out;
}

std::string help(std::string_view v, bool openmetrics) {
  std::string out;
  append_help(out, v, openmetrics);
  return out;
}

TEST(exposition, metrics_exposition_label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(label_value("gpt-4o"), "gpt-4o");
  EXPECT_EQ(label_value(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(label_value(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(label_value("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(label_value("tab\tstays"), "tab\tstays");
  EXPECT_EQ(label_value("héllo"), "héllo");
}

TEST(exposition, metrics_exposition_help_escapes_differ_between_formats_only_for_quotes) {
  EXPECT_EQ(help(R"(a\b)", false), R"(a\\b)");
  EXPECT_EQ(help("two\nlines", false), R"(two\nlines)");
  EXPECT_EQ(help(R"(say "hi")", false), R"(say "hi")");  // 0.0.4 rejects \" in HELP
  EXPECT_EQ(help(R"(say "hi")", true), R"(say \"hi\")");
}

TEST(exposition, metrics_exposition_invalid_utf8_is_replaced_not_passed_to_the_scraper) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("cut \xE2\x82"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8(std::string_view("nul\0ok", 6)), std::string("nul\0ok", 6));
}

TEST(exposition, metrics_exposition_integers_print_without_point_or_exponent) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(3), "3");
  EXPECT_EQ(format_number(-2), "-2");
  EXPECT_EQ(format_number(1e6), "1000000");
  EXPECT_EQ(format_number(800000), "800000");
  EXPECT_EQ(format_number(9007199254740993.0), "9007199254740992");  // the double's exact value
  EXPECT_EQ(format_number(1e21), "1e+21");                           // beyond int64: shortest form
}

TEST(exposition, metrics_exposition_fractions_print_shortest_round_trip) {
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(1.5), "1.5");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_number(1e-5), "1e-05");
  EXPECT_EQ(format_number(-0.005), "-0.005");
  EXPECT_EQ(format_number(123456789.5), "123456789.5");
  for (double v : {0.1, 1.0 / 3, 2.5e-7, 12345.678, 6.02214076e23}) {
    EXPECT_EQ(std::stod(format_number(v)), v) << format_number(v);
  }
}

TEST(exposition, metrics_exposition_special_values_are_spelled_as_prometheus_expects) {
  EXPECT_EQ(format_number(inf), "+Inf");
  EXPECT_EQ(format_number(-inf), "-Inf");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
  std::string out;
  append_number(out, std::uint64_t{18446744073709551615ULL});
  EXPECT_EQ(out, "18446744073709551615");
}

TEST(exposition, metrics_exposition_le_follows_the_go_client_and_openmetrics_canonical_form) {
  const std::vector<std::pair<double, std::string>> text = {
      {0.005, "0.005"}, {0.1, "0.1"},        {1, "1"},         {2.5, "2.5"},       {120, "120"},
      {1e-5, "1e-05"},  {2.5e-5, "2.5e-05"}, {1e-4, "0.0001"}, {100000, "100000"}, {1e6, "1e+06"},
      {inf, "+Inf"}};
  for (const auto& [v, want] : text) {
    EXPECT_EQ(format_le(v, false), want);
  }
  const std::vector<std::pair<double, std::string>> om = {
      {0.005, "0.005"}, {1, "1.0"},       {10, "10.0"},   {100000, "100000.0"},
      {1e6, "1e+06"},   {1e-10, "1e-10"}, {0.95, "0.95"}, {inf, "+Inf"}};
  for (const auto& [v, want] : om) {
    EXPECT_EQ(format_le(v, true), want);
  }
}

TEST(exposition, metrics_exposition_names_are_validated) {
  EXPECT_TRUE(valid_metric_name("switchyard_requests_total"));
  EXPECT_TRUE(valid_metric_name("job:rate5m"));
  EXPECT_TRUE(valid_metric_name("_x"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("2xx"));
  EXPECT_FALSE(valid_metric_name("has-dash"));
  EXPECT_FALSE(valid_metric_name("has space"));
  EXPECT_TRUE(valid_label_name("model"));
  EXPECT_TRUE(valid_label_name("_x1"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("1a"));
  EXPECT_FALSE(valid_label_name(""));
}

TEST(exposition, metrics_exposition_families_are_validated_at_registration) {
  const std::vector<std::string> ok = {"model", "status"};
  EXPECT_NO_THROW(validate_family("a_total", metric_type::counter, ok));
  EXPECT_THROW(validate_family("a", metric_type::counter, ok), std::invalid_argument);
  EXPECT_THROW(validate_family("_total", metric_type::counter, {}), std::invalid_argument);
  EXPECT_THROW(validate_family("a-b", metric_type::gauge, {}), std::invalid_argument);
  const std::vector<std::string> repeated = {"model", "model"};
  EXPECT_THROW(validate_family("a", metric_type::gauge, repeated), std::invalid_argument);
  const std::vector<std::string> le = {"le"};
  EXPECT_NO_THROW(validate_family("a", metric_type::gauge, le));
  EXPECT_THROW(validate_family("a", metric_type::histogram, le), std::invalid_argument);
  EXPECT_EQ(exposed_names("x_seconds", metric_type::histogram),
            (std::vector<std::string>{"x_seconds", "x_seconds_bucket", "x_seconds_sum",
                                      "x_seconds_count"}));
  EXPECT_EQ(exposed_names("req_total", metric_type::counter),
            (std::vector<std::string>{"req_total", "req"}));
}

TEST(exposition, metrics_exposition_samples_and_headers) {
  std::string out;
  append_family_header(out, "up_total", "Line \"one\"\nline two", metric_type::counter, false);
  append_sample(out, "up_total", {{"upstream", "open\"ai"}, {"region", "eu"}}, 2);
  append_sample(out, "up_total", {}, 0.5);
  EXPECT_EQ(out,
            "# HELP up_total Line \"one\"\\nline two\n"
            "# TYPE up_total counter\n"
            "up_total{upstream=\"open\\\"ai\",region=\"eu\"} 2\n"
            "up_total 0.5\n");
  out.clear();
  append_family_header(out, "up_total", "Line \"one\"", metric_type::counter, true);
  append_family_header(out, "odd", "", metric_type::untyped, true);
  append_family_header(out, "odd", "", metric_type::untyped, false);
  EXPECT_EQ(out,
            "# TYPE up counter\n"
            "# HELP up Line \\\"one\\\"\n"
            "# TYPE odd unknown\n"
            "# TYPE odd untyped\n");
}

TEST(exposition, metrics_exposition_labels_render_once_per_series) {
  std::string out;
  const std::vector<std::string> names = {"model", "note"};
  const std::vector<std::string_view> values = {"gpt\xFF", "a\"b"};
  append_labels(out, names, values);
  EXPECT_EQ(out, "model=\"gpt\xEF\xBF\xBD\",note=\"a\\\"b\"");
}

TEST(exposition, metrics_exposition_content_negotiation) {
  EXPECT_EQ(content_type(false), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(content_type(true), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  // What Prometheus 2.x sends by default.
  EXPECT_TRUE(wants_openmetrics(
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
  EXPECT_TRUE(wants_openmetrics("Application/OpenMetrics-Text; version=1.0.0"));
  EXPECT_FALSE(wants_openmetrics(""));
  EXPECT_FALSE(wants_openmetrics("*/*"));
  EXPECT_FALSE(wants_openmetrics("text/plain;version=0.0.4"));
  EXPECT_FALSE(wants_openmetrics("application/openmetrics-text;q=0.2, text/plain"));
  EXPECT_FALSE(wants_openmetrics("application/openmetrics-text;q=0"));
  EXPECT_FALSE(wants_openmetrics("application/openmetrics-text;q=bogus"));
}

TEST(exposition, metrics_exposition_metric_types_parse_and_print) {
  EXPECT_EQ(parse_metric_type("gauge"), metric_type::gauge);
  EXPECT_EQ(parse_metric_type("unknown"), metric_type::untyped);
  EXPECT_EQ(parse_metric_type("Gauge"), std::nullopt);
  EXPECT_EQ(type_name(metric_type::histogram, true), "histogram");
  EXPECT_EQ(type_name(metric_type::untyped, false), "untyped");
}

}  // namespace
}  // namespace switchyard::metrics
