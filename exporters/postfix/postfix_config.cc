#include "exporters/postfix/postfix_config.h"

namespace sre::exporters::postfix {

const config::Schema<PostfixConfig>& PostfixSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<PostfixConfig>("postfix check");
    s->Embed(&PostfixConfig::settings, CheckSettingsSchema());
    s->Field("showq_path", &PostfixConfig::showq_path,
             "Postfix's showq socket (QUEUE_DIRECTORY/public/showq)");
    s->Validate<std::string>(&PostfixConfig::showq_path,
                             [](const std::string& path) -> std::optional<std::string> {
                               if (!path.empty() && path.front() == '/') return std::nullopt;
                               return "showq_path must be an absolute path";
                             });
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::postfix
