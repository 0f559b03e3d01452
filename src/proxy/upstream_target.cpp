#include "switchyard/proxy/upstream_target.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace switchyard {

namespace {

// Percent-encodes everything but RFC 3986's unreserved characters, so that a deployment name
// stays one path segment and an api-version one query value whatever they contain.
void append_encoded(std::string_view s, std::string& out) {
  boost::urls::encode(s, boost::urls::unreserved_chars, {},
                      boost::urls::string_token::append_to(out));
}

// Azure OpenAI (learn.microsoft.com, "Azure OpenAI in Azure AI Foundry Models REST API
// reference" and "API version lifecycle"): dated versions route by deployment in the path;
// the Responses API is not deployment-scoped (the deployment is the body's `model`); the v1 API
// is OpenAI's paths under /openai/v1 with no api-version.
void append_azure_target(const upstream_config& up, endpoint ep, std::string_view deployment,
                         std::string& out) {
  out += up.path_prefix;
  if (up.api_version == "v1") {
    out += "/openai/v1";
    out += endpoint_path(ep);
    return;
  }
  switch (ep) {
    case endpoint::chat_completions:
    case endpoint::completions:
    case endpoint::embeddings:
      out += "/openai/deployments/";
      append_encoded(deployment, out);
      out += endpoint_path(ep);
      break;
    case endpoint::responses:
    case endpoint::messages:  // not served by Azure (the config refuses it in `apis`)
    case endpoint::count_tokens:
      out += "/openai";
      out += endpoint_path(ep);
      break;
  }
  out += "?api-version=";
  append_encoded(up.api_version, out);
}

}  // namespace

void append_upstream_target(const upstream_config& up, endpoint ep, std::string_view model,
                            std::string& out) {
  switch (up.kind) {
    case upstream_type::azure:
      append_azure_target(up, ep, model, out);
      return;
    case upstream_type::openai:
    case upstream_type::anthropic:
      // base_url is the API root for both ("https://api.openai.com/v1",
      // "https://api.anthropic.com/v1"): "/chat/completions", "/messages",
      // "/messages/count_tokens" go below it.
      out += up.path_prefix;
      out += endpoint_path(ep);
      return;
  }
}

}  // namespace switchyard
