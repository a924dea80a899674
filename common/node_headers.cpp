// See node_headers.h.

#include "common/node_headers.h"

#include "common/json_text.h"

#include <algorithm>
#include <array>

namespace chatd {

namespace {

// Node's matchKnownFields: headers whose duplicates are discarded.
constexpr std::array<std::string_view, 18> k_single = {
    "age",          "authorization",       "content-length", "content-type",
    "etag",         "expires",             "from",           "host",
    "if-modified-since", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "proxy-authorization", "referer",        "retry-after",
    "server",       "user-agent"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

struct field {
  std::string name;
  std::vector<std::string_view> values;
};

}  // namespace

std::string node_headers_json(const std::vector<std::pair<std::string_view, std::string_view>>& headers) {
  std::vector<field> fields;
  fields.reserve(headers.size());
  for (const auto& [raw_name, value] : headers) {
    std::string name = lower(raw_name);
    auto it = std::find_if(fields.begin(), fields.end(), [&](const field& f) { return f.name == name; });
    if (it == fields.end()) {
      fields.push_back({std::move(name), {value}});
      continue;
    }
    if (std::find(k_single.begin(), k_single.end(), it->name) != k_single.end()) continue;
    it->values.push_back(value);
  }
  std::string out = "{";
  for (const field& f : fields) {
    if (out.size() > 1) out += ',';
    append_json_string(out, f.name);
    out += ':';
    if (f.name == "set-cookie") {
      out += '[';
      for (size_t i = 0; i < f.values.size(); ++i) {
        if (i > 0) out += ',';
        append_json_string(out, f.values[i]);
      }
      out += ']';
      continue;
    }
    std::string joined;
    const std::string_view sep = f.name == "cookie" ? "; " : ", ";
    for (size_t i = 0; i < f.values.size(); ++i) {
      if (i > 0) joined += sep;
      joined += f.values[i];
    }
    append_json_string(out, joined);
  }
  out += '}';
  return out;
}

}  // namespace chatd
